"""DCGAN on MNIST-family digits (Radford et al. 2015), optionally class-conditional.

Data: the canonical MNIST (or Fashion-MNIST) IDX files; all training images, scaled to
[-1, 1], train the GAN; the 10k test images are only the reference of the evaluation.
Metrics: a domain FID on the penultimate features of the project's own `mnist`
classifier (kept under `models/`), its floor (real training vs test images), a
classifier Inception Score, the class coverage of 10k samples, and the discriminator's
ROC AUC on held-out real images against fresh samples.

Mode balance: an unconditional GAN draws some digits too often (9s and 7s) and others too
rarely (4s and 1s), and more epochs, a wider network, a minibatch-std channel, PacGAN,
DiffAugment or a weight average did not correct it. So by default the GAN is conditioned on
`clusters` unsupervised clusters of the training images (k-means on the pixels' principal
components; no label is used): the generator draws its cluster from the noise at the
clusters' training frequencies, and the discriminator judges each image within its cluster.

The run's `model.keras` is the generator: (n, 100) standard-normal noise, plus (n,)
int labels when `conditional=True`, to (n, 28, 28, 1) images in [-1, 1].

Usage (trains on MNIST):

    import pipelines
    from pipelines.nets.gan import generate
    result = pipelines.run("dcgan", epochs=1, max_train_samples=5000)
    generate(result.model, 16, seed=0).shape  # (16, 28, 28, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from pipelines import atomic
from pipelines.config import MAX_EPOCHS, RunConfig, param
from pipelines.epoch_seeds import EpochSeeds
from pipelines.errors import ConfigError
from pipelines.evaluation.generative_report import add_generative_evaluation
from pipelines.inputs.mnist import load_mnist_family
from pipelines.inputs.pixel_clusters import fit_pixel_clusters
from pipelines.models import check_model_io
from pipelines.nets.gan import make_optimizers
from pipelines.recipes.gan import (
    add_loss_curves,
    describe_clusters,
    describe_dataset,
    fit_gan,
    load_fid_classifier,
    make_dataset,
    make_gan,
    model_card,
    resolve_fid_classifier,
    saved_discriminator,
)
from pipelines.registry import register
from pipelines.training import compile_scope

if TYPE_CHECKING:
    from pipelines.runner import RunContext

CLUSTERS_DEFAULT = 200


@dataclass
class DcganConfig(RunConfig):
    """Configuration of the `dcgan` pipeline. Defaults follow Radford et al., sized for 2 CPU cores."""

    dataset: str = param("mnist", "Which images: mnist or fashion_mnist.", choices=("mnist", "fashion_mnist"))
    conditional: bool = param(False, "Class-conditional GAN: the generator also takes the digit to draw.")
    clusters: int | None = param(
        None,
        "Condition the unconditional GAN on this many k-means clusters of the "
        "training pixels, drawn from the noise at their frequencies, to balance the modes; "
        f"0: a plain DCGAN; None: {CLUSTERS_DEFAULT} (at most max_train_samples // 10), or 0 "
        "when conditional.",
        ge=0,
    )
    latent_dim: int = param(100, "Dimension of the generator's standard-normal noise.", ge=1)
    generator_filters: tuple[int, ...] = param((128, 64), "Width of the generator's 7x7 map, then of its 14x14 stage.")
    discriminator_filters: tuple[int, ...] = param((64, 128), "Width of each stride-2 discriminator stage.")
    kernel_size: int = param(4, "Kernel of every (transposed) convolution.", ge=1)
    discriminator_dropout: float = param(0.0, "Dropout after each discriminator stage.", ge=0, lt=1)
    use_diff_augment: bool = param(False, "DiffAugment (translation + cutout) on real and fake in the D view.")
    generator_ema: float = param(
        0.0,
        "Sample from the generator's weight average over training, with this "
        "momentum per step (e.g. 0.999); 0 keeps the last weights.",
        ge=0,
        lt=1,
    )
    minibatch_std: bool = param(
        False, "A minibatch standard deviation channel in D (Karras et al. 2018), against mode collapse."
    )
    epochs: int = param(
        5, "Training epochs (a 60k-image epoch took 59 s on 2 cores in benchmarks/dcgan.py).", ge=1, le=MAX_EPOCHS
    )
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(2e-4, "Adam learning rate of both networks.", gt=0)
    beta_1: float = param(0.5, "Adam beta_1 of both networks (0.5 damps the oscillation of 0.9).", ge=0, lt=1)
    max_train_samples: int | None = param(None, "Use only this many training images (quick runs).", ge=1)
    steps_per_execution: int = param(16, "Training steps per compiled graph call.", ge=1)
    use_cache: bool = param(True, "Cache the uint8 images in memory before shuffling.")
    sample_every: int = param(1, "Save the fixed-seed sample grid every this many epochs (samples/).", ge=1)
    eval_samples: int = param(10_000, "Generated images scored by the evaluation.", ge=100)
    fid_classifier: str | None = param(
        None, "A saved mnist-pipeline .keras classifier for the FID; None: the kept one."
    )
    fid_classifier_epochs: int | None = param(
        None, "Epochs of the kept classifier; None: the mnist default.", ge=1, le=MAX_EPOCHS
    )
    fid_classifier_train_samples: int | None = param(None, "Training images of the kept classifier; None: all.", ge=1)

    def validate(self) -> None:
        if len(self.generator_filters) != 2 or min(self.generator_filters) < 1:
            raise ConfigError(
                "generator_filters needs 2 positive widths (7x7 map, 14x14 stage). "
                f"Received: generator_filters={self.generator_filters}"
            )
        if not 1 <= len(self.discriminator_filters) <= 3 or min(self.discriminator_filters) < 1:
            raise ConfigError(
                "discriminator_filters needs 1 to 3 positive widths (28 -> 14 -> 7 -> 4). "
                f"Received: discriminator_filters={self.discriminator_filters}"
            )
        if self.clusters == 1 or (self.clusters and self.conditional):
            raise ConfigError(
                "clusters must be 0 or at least 2, and 0 or None when conditional=True (the labels "
                f"already condition the GAN). Received: clusters={self.clusters}, "
                f"conditional={self.conditional}"
            )
        if self.max_train_samples is not None and self.max_train_samples < self.batch_size:
            raise ConfigError(
                "max_train_samples must hold at least one full batch (partial batches are dropped). "
                f"Received: max_train_samples={self.max_train_samples}, batch_size={self.batch_size}"
            )
        if self.clusters and self.max_train_samples is not None and self.clusters > self.max_train_samples:
            raise ConfigError(
                "clusters must not exceed the training images. "
                f"Received: clusters={self.clusters}, max_train_samples={self.max_train_samples}"
            )
        if self.fid_classifier is not None and not Path(self.fid_classifier).is_file():
            raise ConfigError(f"fid_classifier must be a saved .keras file. Received: {self.fid_classifier!r}")

    @property
    def num_clusters(self) -> int:
        """The clusters the GAN is conditioned on: `clusters`, or its default; 0 for none.

        The default is 200, and at most one cluster per 10 images of a `max_train_samples` run.
        """
        if self.clusters is not None:
            return self.clusters
        if self.conditional:
            return 0
        return (
            CLUSTERS_DEFAULT
            if self.max_train_samples is None
            else min(CLUSTERS_DEFAULT, max(2, self.max_train_samples // 10))
        )


def check_saved(model: keras.Model, config: DcganConfig) -> None:
    """`evaluate`'s check of a saved generator: noise (and, conditional, a class label) in, 28x28x1 images out."""
    noise_and_label = [((None,), "float"), ((), "int")][: 2 if len(getattr(model, "inputs", None) or ()) == 2 else 1]
    check_model_io(model, noise_and_label, (28, 28, 1), task="dcgan")


def evaluate_saved(model: keras.Model, config: DcganConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved generator against the test set (no discriminator, so no ROC)."""
    classifier, classifier_path = load_fid_classifier(config)
    data = load_mnist_family(config.dataset, config.data_dir)
    ctx.report.dataset = describe_dataset(data, None, classifier_path)
    with ctx.timer("eval_seconds"):
        add_generative_evaluation(
            ctx.report, model, classifier, data, seed=config.seed, n_generated=config.eval_samples
        )


@register(
    "dcgan",
    config=DcganConfig,
    evaluate=evaluate_saved,
    check_model=check_saved,
    prepare=resolve_fid_classifier,
    summary="DCGAN (optionally class-conditional) on MNIST-family digits, scored by a domain FID.",
)
def train(config: DcganConfig, ctx: RunContext) -> keras.Model:
    # The domain classifier, resolved before the run started (see resolve_fid_classifier).
    classifier, classifier_path = load_fid_classifier(config)
    keras.utils.set_random_seed(config.seed)  # loading it must not shift this run's seeds

    # Prepare the data: every training image (or the first max_train_samples), in [-1, 1].
    data = load_mnist_family(config.dataset, config.data_dir)
    x, y = data.x_train[: config.max_train_samples], data.y_train[: config.max_train_samples]
    if len(x) < config.batch_size:
        raise ConfigError(
            f"batch_size must not exceed the {len(x)} training images. Received: batch_size={config.batch_size}"
        )
    ctx.report.dataset = describe_dataset(data, len(x), classifier_path)
    clusters = None
    if config.num_clusters:
        # Unsupervised: the pixels alone decide the clusters, which then stand in for labels.
        with ctx.timer("cluster_seconds"):
            clusters = fit_pixel_clusters(x, config.num_clusters, seed=config.seed)
        describe_clusters(ctx.report, clusters, y)
    epoch_seeds = EpochSeeds(config.seed)  # order, noise and augmentation drawn from (seed, epoch)
    train_ds = make_dataset(
        x,
        y if clusters is None else clusters.labels,
        batch_size=config.batch_size,
        seed=config.seed,
        cache=config.use_cache,
        epoch_seeds=epoch_seeds,
    )

    # Build the model under the device strategy.
    with compile_scope(
        ctx.strategy,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
        steps_per_epoch=len(x) // config.batch_size,  # full batches only
    ) as options:
        gan = make_gan(config, len(data.class_names), None if clusters is None else clusters.frequencies)
        d_optimizer, g_optimizer = make_optimizers(config.learning_rate, config.beta_1, config.generator_ema)
        gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, **options)

    # Train. No early stopping or best checkpoint: the GAN losses do not measure sample quality.
    with ctx.timer("train_seconds"):
        ctx.report.history = fit_gan(
            gan, train_ds, config, ctx.run_dir, num_classes=len(data.class_names), epoch_seeds=epoch_seeds
        )

    # The generator's weight average replaces its weights (when generator_ema is set).
    averaged = gan.average_generator()

    # Evaluate against the canonical test set; the discriminator is saved beside the generator.
    discriminator = saved_discriminator(gan, clusters)
    with ctx.timer("eval_seconds"):
        add_generative_evaluation(
            ctx.report,
            gan.generator,
            classifier,
            data,
            seed=config.seed,
            n_generated=config.eval_samples,
            discriminator=discriminator,
        )
        add_loss_curves(ctx.report)
    with atomic.atomic_path(ctx.run_dir / "discriminator.keras") as tmp:
        discriminator.save(tmp)
    ctx.model_card.update(model_card(config, data, clusters, classifier_path, gan.generator, averaged=averaged))
    return gan.generator
