"""The DCGAN pipeline's stages besides its net, in the order its task calls them: the domain
classifier that scores it, the tf.data step of real images, the GAN built from the config,
its training loop, the discriminator to save, and the report's and model card's entries.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.epoch_seeds import EpochSeeds, epoch_batches
from pipelines.errors import TrainingDivergedError
from pipelines.evaluation import plots
from pipelines.evaluation.generative_report import SampleGrid
from pipelines.gradient_norms import GradientNorms
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.pixel_clusters import PixelClusters
from pipelines.nets.cluster_code import NearestCluster, discriminator_on_images
from pipelines.nets.gan import DCGAN, make_discriminator, make_generator
from pipelines.training import AtomicBackupAndRestore, EpochTimer

if TYPE_CHECKING:
    from pipelines.evaluation.report import Report
    from pipelines.tasks.dcgan import DcganConfig

__all__ = [
    "fid_classifier_name",
    "resolve_fid_classifier",
    "load_fid_classifier",
    "make_dataset",
    "make_gan",
    "fit_gan",
    "describe_clusters",
    "describe_dataset",
    "saved_discriminator",
    "add_loss_curves",
    "model_card",
]


def fid_classifier_name(config: DcganConfig) -> str:
    """The kept classifier's file stem; a quick (fewer epochs or images) one says so in its name."""
    name = f"fid_classifier_{config.dataset}_cnn"
    if config.fid_classifier_epochs is not None or config.fid_classifier_train_samples is not None:
        name += f"_quick_e{config.fid_classifier_epochs or 'default'}_n{config.fid_classifier_train_samples or 'all'}"
    return name


def resolve_fid_classifier(config: DcganConfig) -> DcganConfig:
    """`config` with `fid_classifier` set: the file given, or the kept mnist-pipeline CNN (trained on first use).

    Registered as the pipeline's `prepare`: the runner calls it before the run starts, so the
    kept model is never trained inside another run (nor shifts its seeds), and the report's
    config names the classifier that scored it.
    """
    if config.fid_classifier is not None:
        return config
    from pipelines import runner
    from pipelines.model_store import kept_model

    overrides = {"epochs": config.fid_classifier_epochs, "max_train_samples": config.fid_classifier_train_samples}
    # Label smoothing pulls the penultimate features of each class together, which
    # changes FID's scale: the feature extractor stays a plain cross-entropy net even
    # though the mnist pipeline's own default now smooths.
    path = kept_model(
        fid_classifier_name(config),
        lambda out: runner.run(
            "mnist",
            dataset=config.dataset,
            data_dir=config.data_dir,
            out=out,
            verbose=config.verbose,
            label_smoothing=0.0,
            **{k: v for k, v in overrides.items() if v is not None},
        ),
    )
    return dataclasses.replace(config, fid_classifier=str(path))


def load_fid_classifier(config: DcganConfig) -> tuple[keras.Model, str]:
    """The domain classifier of `config` (resolved first, see `resolve_fid_classifier`) and its path."""
    from pipelines.models import load_model

    path = resolve_fid_classifier(config).fid_classifier
    assert path is not None, "resolve_fid_classifier sets it"
    return load_model(path), path


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    cache: bool = True,
    epoch_seeds: EpochSeeds | None = None,
) -> tf.data.Dataset:
    """Real images in [-1, 1] with their labels: cached (as uint8), shuffled each epoch, batched.

    With `epoch_seeds`, each epoch's order is drawn from `(seed, epoch)` instead (see
    `pipelines.epoch_seeds`), so a resumed run repeats the uninterrupted one.

    Example:
        >>> ds = make_dataset(np.full((5, 28, 28), 255, "uint8"), np.arange(5), batch_size=2, seed=0)
        >>> [(tuple(x.shape), float(x.numpy().max())) for x, _ in ds]
        [((2, 28, 28, 1), 1.0), ((2, 28, 28, 1), 1.0)]
    """
    # Full batches only: a tiny last batch gives BatchNorm noisy statistics for one step.
    if epoch_seeds is not None:
        ds = epoch_batches(
            (x[..., None], y.astype("int32")), batch_size, seed=seed, epoch=epoch_seeds.epoch, drop_remainder=True
        )
        ds = ds.map(lambda rows, key: rows)
    else:
        ds = tf.data.Dataset.from_tensor_slices((x[..., None], y.astype("int32")))
        if cache:
            ds = ds.cache()
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size, drop_remainder=True)
    ds = ds.map(
        lambda images, labels: (tf.cast(images, tf.float32) / 127.5 - 1.0, labels), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def make_gan(config: DcganConfig, num_classes: int, cluster_frequencies: np.ndarray | None = None) -> DCGAN:
    """The GAN of `config`: class-conditional, cluster-conditioned (given the clusters' shares), or plain."""
    classes = num_classes if config.conditional else None
    d_classes = classes if cluster_frequencies is None else len(cluster_frequencies)
    return DCGAN(
        make_generator(
            latent_dim=config.latent_dim,
            num_classes=classes,
            filters=config.generator_filters,
            kernel_size=config.kernel_size,
            seed=config.seed,
            cluster_frequencies=cluster_frequencies,
        ),
        make_discriminator(
            num_classes=d_classes,
            filters=config.discriminator_filters,
            kernel_size=config.kernel_size,
            dropout=config.discriminator_dropout,
            minibatch_std=config.minibatch_std,
            seed=config.seed,
        ),
        latent_dim=config.latent_dim,
        use_diff_augment=config.use_diff_augment,
        seed=config.seed,
    )


def fit_gan(
    gan: DCGAN,
    train_ds: tf.data.Dataset,
    config: DcganConfig,
    run_dir: Path,
    *,
    num_classes: int,
    epoch_seeds: EpochSeeds | None = None,
) -> dict:
    """Trains `gan` for `config.epochs` with a resumable backup and sample grids; returns the history.

    No early stopping or best checkpoint: the GAN losses do not measure sample quality. With
    `epoch_seeds` (the one `train_ds` was made with), the noise and augmentation draws of epoch
    `e` come from `(seed, e)` too, so a killed run resumed from its backup repeats the
    uninterrupted one.

    Raises:
        TrainingDivergedError: The losses became non-finite.
    """
    callbacks = [
        EpochTimer(),
        GradientNorms({"d_optimizer": "d_grad_norm", "g_optimizer": "g_grad_norm"}),
        keras.callbacks.TerminateOnNaN(),
        SampleGrid(run_dir / "samples", num_classes=num_classes, every=config.sample_every, epochs=config.epochs),
        *([epoch_seeds] if epoch_seeds is not None else []),
        AtomicBackupAndRestore(str(run_dir / "backup"), delete_checkpoint=True),
    ]
    # tf.data already shuffles, seeded.
    history = gan.fit(train_ds, epochs=config.epochs, callbacks=callbacks, verbose=config.verbose, shuffle=False)
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    if any(not np.isfinite(v) for v in logs.get("d_loss", [np.nan])):
        raise TrainingDivergedError(
            f"the GAN losses became non-finite. Lower learning_rate (now {config.learning_rate})."
        )
    return logs


def describe_clusters(report: Report, clusters: PixelClusters, y: np.ndarray) -> None:
    """The cluster conditioning's note, with its purity: a diagnostic only (training never sees labels)."""
    k = len(clusters.frequencies)
    majority = sum(np.bincount(y[clusters.labels == c]).max() for c in range(k) if np.any(clusters.labels == c))
    report.add_metrics({"cluster_purity": majority / len(y)})
    report.add_text(
        "Cluster conditioning",
        (
            f"The GAN is conditioned on {k} k-means clusters of the {len(y)} training images (on the first "
            f"{clusters.components.shape[0]} principal components of the pixels); no label is used to train it. The "
            "generator draws its cluster from its noise (the inverse CDF of the clusters' shares at Phi(z_0)), so the "
            "clusters it is asked to draw keep their training frequencies, and the projection discriminator, which "
            "judges each image within its cluster, pushes each drawn image to match its cluster. For the ROC the "
            "saved discriminator judges every image, real or generated, within its nearest cluster. `cluster_purity`, "
            f"the share of training images whose class is their cluster's most common one ({majority / len(y):.3f}), "
            "is a diagnostic computed after the fit."
        ),
    )


def describe_dataset(data: ImageData, n_train: int | None, classifier: str) -> dict:
    info = dict(data.info)
    info["splits"] = {"train": n_train, "test": len(data.y_test)} if n_train else {"test": len(data.y_test)}
    info["fid_classifier"] = classifier
    return info


def saved_discriminator(gan: DCGAN, clusters: PixelClusters | None) -> keras.Model:
    """The discriminator to score and save: on raw images, judged within their nearest cluster."""
    if clusters is None:
        return gan.discriminator
    return discriminator_on_images(
        gan.discriminator,
        NearestCluster(clusters.mean, clusters.components, clusters.centroids, name="nearest_cluster"),
    )


def add_loss_curves(report: Report) -> None:
    """The figure of the two players' losses and of D's mean output on real and fake batches."""
    report.add_figure(
        "learning_curves",
        plots.learning_curves_figure(
            {k: v for k, v in report.history.items() if k in ("d_loss", "g_loss", "d_real", "d_fake")}
        ),
        title="Losses of G and D",
        caption="d_real and d_fake: mean D(x) on real and on generated batches.",
    )


def model_card(
    config: DcganConfig,
    data: ImageData,
    clusters: PixelClusters | None,
    classifier_path: str,
    generator: keras.Model,
    *,
    averaged: bool,
) -> dict[str, Any]:
    """The model card's entries for the saved generator (and the discriminator beside it)."""
    card: dict[str, Any] = {}
    if averaged:
        card["weights"] = (
            f"the generator's exponential moving average over training (momentum "
            f"{config.generator_ema} per step), BatchNorm statistics re-estimated"
        )
    card.update(
        inputs=(
            f"noise (n, {config.latent_dim}) float32 standard normal"
            + (", label (n,) int32 class index" if config.conditional else "")
        ),
        outputs="images (n, 28, 28, 1) float32 in [-1, 1] (tanh); (x + 1) * 127.5 gives pixels",
        class_names=list(data.class_names) if config.conditional else None,
        helpers="pipelines.nets.gan.generate(model, n, seed=..., labels=...)",
        discriminator="discriminator.keras beside the generator (image [-1, 1] -> real-vs-fake logit"
        + (", judged within the image's nearest cluster)" if clusters is not None else ")"),
        clusters=(
            None
            if clusters is None
            else f"{config.num_clusters} k-means clusters of the training pixels; the "
            "generator draws its cluster from noise[:, 0] at the clusters' training frequencies"
        ),
        fid_classifier=classifier_path,
        parameters=int(generator.count_params()),
    )
    return card
