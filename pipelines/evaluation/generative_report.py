"""The report of an image generator: domain FID, Inception Score, class coverage, discriminator ROC, samples.

Usage (a trained generator, a kept domain classifier and the test images):

    metrics = add_generative_evaluation(report, generator, classifier, data, seed=0)
    metrics["fid_domain"] >= metrics["fid_domain_real_floor"]  # True
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipelines import atomic
from pipelines.evaluation import plots
from pipelines.evaluation.classification import binary_metrics
from pipelines.evaluation.generative import (
    class_coverage,
    classifier_features,
    coverage_figure,
    feature_statistics,
    frechet_distance,
    inception_score,
    sample_grid_figure,
)
from pipelines.inputs.mnist import ImageData
from pipelines.nets.gan import generate

__all__ = ["METHOD_NOTE", "add_generative_evaluation", "sample_grid", "SampleGrid"]

METHOD_NOTE = """\
**FID on a domain classifier.** The Frechet Inception Distance compares the mean and covariance of
features of real and generated images: |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)). The
Inception network it normally uses was trained on photographs, so here the features are the
penultimate layer (the input of the logits layer) of a digit classifier trained by this project: the
`mnist` pipeline's CNN, trained once and kept under `models/` (its name and model card are listed in
the dataset section). `fid_domain` compares {n_gen} generated images with the {n_test} canonical test
images. `fid_domain_real_floor` compares {n_train} real training images with the same test images: the
distance a perfect generator would still show, from sampling alone. Values are comparable only between
runs that use the same classifier, never with published FIDs.

**Inception Score (domain).** exp(E_x KL(p(y|x) || p(y))) with the same classifier's softmax, mean over
10 chunks; 10 is the maximum, reached by confident, balanced samples. `inception_score_domain_real` is
the test set's own score.

**Class coverage.** The classifier's predicted class of each generated image. A generator that
collapses onto a few digits shows a low `class_entropy` (maximum ln 10 = 2.303) and a small
`min_class_fraction`.

**Discriminator ROC.** The trained discriminator scores the held-out real test images (never seen in
training) against fresh generated images. An AUC near 0.5 means it cannot tell them apart; near 1, the
samples are still easy to spot.
"""


def sample_grid(
    generator: keras.Model, *, num_classes: int, seed: int, per_row: int = 10
) -> tuple[np.ndarray, list[int] | None]:
    """A fixed-seed grid of samples: one row per class when conditional, else 10 rows.

    Returns:
        `(images, row_labels)`, images (rows * per_row, 28, 28, 1) in [-1, 1]; row labels
        are the requested classes, or `None` for an unconditional generator.
    """
    n = num_classes * per_row
    if len(generator.inputs) == 2:
        labels = np.repeat(np.arange(num_classes), per_row)
        return generate(generator, n, seed=seed, labels=labels), list(range(num_classes))
    return generate(generator, n, seed=seed), None


def add_generative_evaluation(
    report: Any,
    generator: keras.Model,
    classifier: keras.Model,
    data: ImageData,
    *,
    seed: int,
    n_generated: int = 10_000,
    discriminator: keras.Model | None = None,
    sample_seed: int = 0,
) -> dict[str, float]:
    """Scores `generator` against the test set and adds metrics, tables, figures and the method note.

    Args:
        report: The run's `Report`.
        generator: Noise (and labels) -> images in [-1, 1].
        classifier: The domain classifier (images in [0, 1] -> logits).
        data: The dataset; its test split is the reference, its train split the floor.
        seed: Seed of the evaluation noise and of the training-image sample.
        n_generated: Generated images (and training images for the floor). Defaults to `10_000`.
        discriminator: The trained discriminator, for the ROC; `None` skips it.
        sample_seed: Seed of the sample grid (the one the training callback shows). Defaults to `0`.

    Returns:
        The metrics added: `fid_domain`, `fid_domain_real_floor`, `inception_score_domain`,
        `inception_score_domain_std`, `inception_score_domain_real`, `class_entropy`,
        `min_class_fraction`, `max_class_fraction`, plus `conditional_accuracy` for a
        conditional generator and `discriminator_roc_auc` with a discriminator.
    """
    num_classes = len(data.class_names)
    conditional = len(generator.inputs) == 2
    labels = np.arange(n_generated) % num_classes if conditional else None
    fake = generate(generator, n_generated, seed=seed, labels=labels)
    rng = np.random.default_rng(seed)
    train_sample = data.x_train[rng.permutation(len(data.x_train))[:n_generated]]
    f_test, p_test = classifier_features(classifier, data.x_test[..., None] / 255.0)
    f_train, _ = classifier_features(classifier, train_sample[..., None] / 255.0)
    f_fake, p_fake = classifier_features(classifier, (fake + 1.0) / 2.0)
    test_stats = feature_statistics(f_test)
    coverage = class_coverage(p_fake.argmax(axis=1), num_classes)
    is_mean, is_std = inception_score(p_fake)
    metrics = {
        "fid_domain": frechet_distance(*feature_statistics(f_fake), *test_stats),
        "fid_domain_real_floor": frechet_distance(*feature_statistics(f_train), *test_stats),
        "inception_score_domain": is_mean,
        "inception_score_domain_std": is_std,
        "inception_score_domain_real": inception_score(p_test)[0],
        "class_entropy": coverage["class_entropy"],
        "min_class_fraction": coverage["min_class_fraction"],
        "max_class_fraction": coverage["max_class_fraction"],
    }
    if conditional:
        # Share of samples the classifier reads as the digit that was asked for.
        metrics["conditional_accuracy"] = float((p_fake.argmax(axis=1) == labels).mean())
    test_fractions = np.bincount(data.y_test, minlength=num_classes) / len(data.y_test)
    report.add_table(
        "Class coverage of generated images",
        [
            {
                "class": name,
                "generated_count": coverage["counts"][k],
                "generated_fraction": coverage["fractions"][k],
                "test_fraction": float(test_fractions[k]),
            }
            for k, name in enumerate(data.class_names)
        ],
        note=f"Predicted class of {n_generated} generated images"
        + (f", {n_generated // num_classes} requested per class" if conditional else "")
        + f". Entropy {coverage['class_entropy']:.4f} nats (max {coverage['class_entropy_max']:.4f}).",
    )
    report.add_figure(
        "class_coverage",
        coverage_figure(coverage["fractions"], data.class_names, test_fractions),
        title="Class coverage",
        caption="Share of generated images per predicted class, beside the real test set's shares.",
    )
    images, row_labels = sample_grid(generator, num_classes=num_classes, seed=sample_seed)
    report.add_figure(
        "samples",
        sample_grid_figure(images, row_labels=row_labels),
        title="Generated samples",
        caption="Fixed noise (seed {}); {}.".format(
            sample_seed, "one row per requested class" if conditional else "100 samples"
        ),
    )
    if discriminator is not None:
        metrics.update(_discriminator_roc(report, discriminator, generator, data, labels, seed + 1))
    report.add_metrics(metrics)
    # Lower is better; the runs index shows it (`pipelines reports`).
    report.extra.setdefault("headline_metric", "fid_domain")
    report.add_text(
        "How the generator is measured",
        METHOD_NOTE.format(n_gen=n_generated, n_test=len(data.x_test), n_train=len(train_sample)),
    )
    return metrics


def _discriminator_roc(
    report: Any,
    discriminator: keras.Model,
    generator: keras.Model,
    data: ImageData,
    labels: np.ndarray | None,
    seed: int,
) -> dict[str, float]:
    real = data.x_test[..., None].astype("float32") / 127.5 - 1.0
    fresh = generate(
        generator, len(real), seed=seed, labels=None if labels is None else np.arange(len(real)) % len(data.class_names)
    )
    images = np.concatenate([real, fresh])
    inputs = (
        images
        if labels is None
        else [images, np.concatenate([data.y_test, np.arange(len(real)) % len(data.class_names)]).astype("int32")]
    )
    # Real then generated, each a whole number of batches: no batch mixes the two, which a
    # discriminator with a MinibatchStdDev channel (a statistic of the batch) relies on.
    batch = math.gcd(len(real), 1000)
    logits = discriminator.predict(inputs, batch_size=batch, verbose=0)[:, 0].astype(np.float64)
    y = np.concatenate([np.ones(len(real), int), np.zeros(len(fresh), int)])
    score = 1 / (1 + np.exp(-logits))
    scores = binary_metrics(y, score)
    report.add_figure(
        "discriminator_roc",
        plots.roc_figure(y, score, ["generated", "real"]),
        title="Discriminator ROC: held-out real vs fresh generated",
        caption=f"{len(real)} real test images (never trained on) against {len(fresh)} new samples.",
    )
    return {"discriminator_roc_auc": scores["roc_auc"], "discriminator_accuracy": scores["accuracy"]}


class SampleGrid(keras.callbacks.Callback):
    """Saves the fixed-seed sample grid as `samples/epoch_NNN.png` every `every` epochs (and after the last)."""

    def __init__(self, out_dir: Path, *, num_classes: int, every: int, epochs: int, seed: int = 0) -> None:
        super().__init__()
        self.out_dir, self.num_classes, self.every, self.epochs, self.seed = (
            Path(out_dir),
            num_classes,
            every,
            epochs,
            seed,
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every and epoch + 1 != self.epochs:
            return
        images, rows = sample_grid(self.model.generator, num_classes=self.num_classes, seed=self.seed)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(
            self.out_dir / f"epoch_{epoch + 1:03d}.png",
            plots.figure_to_png(sample_grid_figure(images, row_labels=rows, title=f"epoch {epoch + 1}")),
        )
