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
import numpy as np
import tensorflow as tf

from pipelines import atomic
from pipelines.config import RunConfig, param
from pipelines.errors import ConfigError, TrainingDivergedError
from pipelines.evaluation import plots
from pipelines.evaluation.generative_report import SampleGrid, add_generative_evaluation
from pipelines.inputs.mnist import ImageData, load_mnist_family
from pipelines.inputs.pixel_clusters import PixelClusters, fit_pixel_clusters
from pipelines.nets.cluster_code import NearestCluster, discriminator_on_images
from pipelines.nets.gan import DCGAN, make_discriminator, make_generator, make_optimizers
from pipelines.registry import register
from pipelines.training import EpochTimer, compile_scope

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
    epochs: int = param(5, "Training epochs (a 60k-image epoch took 59 s on 2 cores in benchmarks/dcgan.py).", ge=1)
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
    fid_classifier_epochs: int | None = param(None, "Epochs of the kept classifier; None: the mnist default.", ge=1)
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


def fid_classifier_name(config: DcganConfig) -> str:
    """The kept classifier's file stem; a quick (fewer epochs or images) one says so in its name."""
    name = f"fid_classifier_{config.dataset}_cnn"
    if config.fid_classifier_epochs is not None or config.fid_classifier_train_samples is not None:
        name += f"_quick_e{config.fid_classifier_epochs or 'default'}_n{config.fid_classifier_train_samples or 'all'}"
    return name


def load_fid_classifier(config: DcganConfig) -> tuple[keras.Model, str]:
    """The domain classifier: `config.fid_classifier`, or the kept mnist-pipeline CNN (trained on first use)."""
    from pipelines import runner
    from pipelines.model_store import kept_model
    from pipelines.models import load_model

    path: str | Path | None = config.fid_classifier
    if path is None:
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
    return load_model(path), str(path)


def make_dataset(x: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int, cache: bool = True) -> tf.data.Dataset:
    """Real images in [-1, 1] with their labels: cached (as uint8), shuffled each epoch, batched.

    Example:
        >>> ds = make_dataset(np.full((5, 28, 28), 255, "uint8"), np.arange(5), batch_size=2, seed=0)
        >>> [(tuple(x.shape), float(x.numpy().max())) for x, _ in ds]
        [((2, 28, 28, 1), 1.0), ((2, 28, 28, 1), 1.0)]
    """
    ds = tf.data.Dataset.from_tensor_slices((x[..., None], y.astype("int32")))
    if cache:
        ds = ds.cache()
    # Full batches only: a tiny last batch gives BatchNorm noisy statistics for one step.
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


def describe_clusters(report, clusters: PixelClusters, y: np.ndarray) -> None:
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
    summary="DCGAN (optionally class-conditional) on MNIST-family digits, scored by a domain FID.",
)
def train(config: DcganConfig, ctx: RunContext) -> keras.Model:
    # The domain classifier first: training it on first use must not shift this run's seeds.
    classifier, classifier_path = load_fid_classifier(config)
    keras.utils.set_random_seed(config.seed)

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
    train_ds = make_dataset(
        x,
        y if clusters is None else clusters.labels,
        batch_size=config.batch_size,
        seed=config.seed,
        cache=config.use_cache,
    )

    # Build the model under the device strategy.
    with compile_scope(
        ctx.strategy, jit_compile=config.jit_compile, steps_per_execution=config.steps_per_execution
    ) as options:
        gan = make_gan(config, len(data.class_names), None if clusters is None else clusters.frequencies)
        d_optimizer, g_optimizer = make_optimizers(config.learning_rate, config.beta_1, config.generator_ema)
        gan.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, **options)

    # Train. No early stopping or best checkpoint: the GAN losses do not measure sample quality.
    callbacks = [
        EpochTimer(),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(str(ctx.run_dir / "backup"), delete_checkpoint=True),
        SampleGrid(
            ctx.run_dir / "samples", num_classes=len(data.class_names), every=config.sample_every, epochs=config.epochs
        ),
    ]
    with ctx.timer("train_seconds"):
        history = gan.fit(
            train_ds, epochs=config.epochs, callbacks=callbacks, verbose=config.verbose, shuffle=False
        )  # tf.data already shuffles, seeded
    ctx.report.history = {k: [float(v) for v in values] for k, values in history.history.items()}
    if any(not np.isfinite(v) for v in ctx.report.history.get("d_loss", [np.nan])):
        raise TrainingDivergedError(
            f"the GAN losses became non-finite. Lower learning_rate (now {config.learning_rate})."
        )

    if gan.average_generator():
        ctx.model_card["weights"] = (
            f"the generator's exponential moving average over training (momentum "
            f"{config.generator_ema} per step), BatchNorm statistics re-estimated"
        )

    discriminator = gan.discriminator
    if clusters is not None:
        discriminator = discriminator_on_images(
            discriminator,
            NearestCluster(clusters.mean, clusters.components, clusters.centroids, name="nearest_cluster"),
        )

    # Evaluate against the canonical test set.
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
        ctx.report.add_figure(
            "learning_curves",
            plots.learning_curves_figure(
                {k: v for k, v in ctx.report.history.items() if k in ("d_loss", "g_loss", "d_real", "d_fake")}
            ),
            title="Losses of G and D",
            caption="d_real and d_fake: mean D(x) on real and on generated batches.",
        )
    with atomic.atomic_path(ctx.run_dir / "discriminator.keras") as tmp:
        discriminator.save(tmp)
    ctx.model_card.update(
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
        parameters=int(gan.generator.count_params()),
    )
    return gan.generator
