"""Denoising autoencoder on MNIST-family images, with anomaly detection by reconstruction error.

Data: the canonical MNIST (or Fashion-MNIST) IDX files. Corruption (Gaussian noise,
masking, or salt and pepper) is drawn in tf.data, fresh each epoch; the target is the
clean image. One class (`anomaly_class`, 0 by default) is held out of training: the other
classes' training images are split stratified into train and validation, and a seeded
sample of the held-out class's training images, as many as its natural share of the
validation set, joins validation only to choose the anomaly threshold; the rest of that
class is unused. Metrics, on the canonical 10k test set with every class: PSNR and SSIM
of the noisy and of the denoised images against the clean ones (one fixed noisy test
set), and ROC AUC, AP and F1 of "is the held-out class", scored by the reconstruction
error of the clean image.

Usage (trains on MNIST):

    import pipelines
    result = pipelines.run("denoising_autoencoder", epochs=1, max_train_samples=5000)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from pipelines.budget import make_budgeted_optimizer
from pipelines.config import TrainConfig, param
from pipelines.errors import ConfigError
from pipelines.evaluation import plots
from pipelines.evaluation.anomaly import add_anomaly_evaluation, reconstruction_errors
from pipelines.evaluation.bootstrap import bootstrap, interval_metrics, mean_stat
from pipelines.evaluation.classifier_report import add_interval_table, fingerprint
from pipelines.evaluation.image_quality import (
    denoising_grid_figure,
    per_class_quality,
    per_image_quality,
    psnr_curve_figure,
    psnr_ssim,
    summarize_quality,
)
from pipelines.inputs.corruption import CORRUPTIONS, Corruption, ShiftConfig, corrupt_images, make_denoising_dataset
from pipelines.inputs.mnist import ImageData, load_mnist_family
from pipelines.inputs.splits import train_val_split
from pipelines.nets.autoencoder import PSNRLoss, denoise, make_denoising_autoencoder
from pipelines.registry import register
from pipelines.training import compile_scope, fit

if TYPE_CHECKING:
    from pipelines.runner import RunContext

LOSSES = {"psnr": PSNRLoss, "mse": keras.losses.MeanSquaredError, "bce": keras.losses.BinaryCrossentropy}


@dataclass
class DenoisingAutoencoderConfig(TrainConfig):
    """Configuration of the `denoising_autoencoder` pipeline. Defaults are the measured best on 2 CPU cores."""

    dataset: str = param("mnist", "Which images: mnist or fashion_mnist.", choices=("mnist", "fashion_mnist"))
    corruption: str = param("gaussian", "Corruption: gaussian, masking or salt_and_pepper.", choices=CORRUPTIONS)
    noise_factor: float = param(0.4, "Std of the Gaussian noise (pixels in [0, 1]; clipped after adding).", ge=0)
    mask_fraction: tuple[float, float] = param((0.3, 0.5), "Range of the share of pixels masked to 0, per image.")
    salt_pepper_amount: float = param(0.2, "Share of pixels set to 0 or 1 by salt_and_pepper.", ge=0, le=1)
    test_noise_seed: int = param(0, "Seed of the fixed noisy test set (not `seed`, so runs compare).", ge=0)
    anomaly_class: int | None = param(
        0, "Class held out of training and scored as the anomaly; None: train on all.", ge=0, le=9
    )
    loss: str = param(
        "psnr",
        "Training loss: psnr (minus the mean per-image PSNR), mse or bce (measured: psnr "
        "+0.25 dB over mse, +0.2 dB over bce).",
        choices=tuple(LOSSES),
    )
    stem_filters: int = param(16, "Width of the full-resolution layers.", ge=1)
    filters: tuple[int, ...] = param((64, 64), "Width of each stride-2 stage (28 -> 14 -> 7).")
    latent_filters: int = param(32, "Channels of the 7x7 latent map (the bottleneck).", ge=1)
    convs_per_stage: int = param(1, "3x3 convolutions per stage, the strided one included.", ge=1)
    augment: ShiftConfig = param(doc="Training-only shifts before corruption.", factory=ShiftConfig)
    use_cache: bool = param(True, "Cache the uint8 images in memory before augmentation and corruption.")
    epochs: int = param(5, "Maximum number of training epochs.", ge=1)
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(3e-3, "Peak learning rate (Adam, cosine decay to 0).", gt=0)
    warmup_epochs: float = param(0.3, "Linear warm-up length before cosine decay.", ge=0)
    steps_per_execution: int = param(16, "Training steps per compiled graph call.", ge=1)
    time_budget_seconds: float | None = param(
        None, "Train for this wall time: the cosine decay spans it (or `epochs`, if shorter), then stop.", gt=0
    )
    curve_levels: tuple[float, ...] = param(
        (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), "Noise levels of the PSNR curve (the corruption's own strength)."
    )
    curve_samples: int = param(1000, "Test images scored at each level of the PSNR curve.", ge=1)

    def validate(self) -> None:
        make_corruption(self)  # raises ConfigError on a bad mask_fraction
        if not self.filters or min(self.filters) < 1 or 28 % 2 ** len(self.filters):
            raise ConfigError(
                "filters needs one positive width per stride-2 stage, and 28x28 images allow at most "
                f"2 stages. Received: filters={self.filters}"
            )
        top = math.inf if self.corruption == "gaussian" else 1.0
        if not self.curve_levels or not all(0 < level <= top for level in self.curve_levels):
            raise ConfigError(
                f"curve_levels must lie in (0, {top}] for {self.corruption}. Received: curve_levels={self.curve_levels}"
            )


def make_corruption(config: DenoisingAutoencoderConfig) -> Corruption:
    low, high = config.mask_fraction
    return Corruption(config.corruption, config.noise_factor, (low, high), config.salt_pepper_amount)


@dataclass(frozen=True)
class Split:
    """uint8 training images (normal only); validation images and their 0/1 anomaly labels."""

    x_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def split_data(data: ImageData, config: DenoisingAutoencoderConfig) -> Split:
    """Holds `anomaly_class` out of train; validation gets its natural share of that class."""
    c = config.anomaly_class
    normal = np.ones(len(data.y_train), bool) if c is None else data.y_train != c
    x_train, _, x_val, _ = train_val_split(
        data.x_train[normal], data.y_train[normal], config.validation_fraction, config.seed
    )
    x_train = x_train[: config.max_train_samples]
    y_val = np.zeros(len(x_val), np.int64)
    if c is not None:
        held_out = data.x_train[~normal]
        share = len(held_out) / len(data.y_train)
        n = min(len(held_out), round(len(x_val) * share / (1 - share)))
        picked = held_out[np.random.default_rng(config.seed).permutation(len(held_out))[:n]]
        x_val, y_val = np.concatenate([x_val, picked]), np.concatenate([y_val, np.ones(n, np.int64)])
    return Split(x_train, x_val, y_val)


def describe_dataset(data: ImageData, split: Split, config: DenoisingAutoencoderConfig) -> dict[str, Any]:
    info = dict(data.info)
    info["splits"] = {
        "train": len(split.x_train),
        "validation": int((split.y_val == 0).sum()),
        "validation_anomalies": int(split.y_val.sum()),
        "test": len(data.y_test),
    }
    if config.anomaly_class is not None:
        name = data.class_names[config.anomaly_class]
        info["anomaly_class"] = name
        info["note"] = (
            f"Class {name!r} is held out of training; a seeded sample of its training images, in its "
            "natural proportion, is in validation to choose the anomaly threshold. The test set keeps "
            "every class."
        )
    return info


def evaluate_model(
    model: keras.Model, data: ImageData, split: Split, config: DenoisingAutoencoderConfig, ctx: RunContext
) -> dict:
    """Scores the fixed noisy test set, the PSNR curve and the anomaly detector; returns the metrics."""
    corruption, report = make_corruption(config), ctx.report
    with ctx.timer("eval_seconds"):
        clean = data.x_test[..., None].astype("float32") / 255.0
        noisy = corrupt_images(data.x_test, corruption, seed=config.test_noise_seed)
        denoised = denoise(model, noisy)
        per_image = per_image_quality(clean, noisy, denoised)
        metrics = summarize_quality(per_image)
        intervals = {"psnr_denoised": bootstrap(mean_stat(per_image["psnr_denoised"]), len(clean))}
        metrics.update(interval_metrics(intervals))
        report.add_metrics(metrics)
        add_interval_table(report, intervals, what=f"the {len(clean):,} noisy test images (mean per-image PSNR)")
        report.extra.setdefault("headline_metric", "psnr_denoised")
        report.add_predictions(
            "denoising",
            y_true=data.y_test,
            psnr_denoised=per_image["psnr_denoised"],
            psnr_noisy=per_image["psnr_noisy"],
            fingerprint=fingerprint(noisy),
        )
        report.add_table(
            "Per-class image quality",
            per_class_quality(data.y_test, data.class_names, per_image),
            note="Means over each class's test images, on the fixed noisy test set.",
        )
        first = [int(np.flatnonzero(data.y_test == k)[0]) for k in np.unique(data.y_test)]
        report.add_figure(
            "denoising_examples",
            denoising_grid_figure(clean[first], noisy[first], denoised[first], n=len(first)),
            title="Clean, noisy and denoised test images",
            caption="The first test image of each class.",
        )
        _add_psnr_curve(model, data.x_test[: config.curve_samples], corruption, config, report)
        if config.anomaly_class is not None:
            val_errors = reconstruction_errors(split.x_val[..., None] / 255.0, denoise(model, split.x_val))
            test_errors = reconstruction_errors(clean, denoise(model, clean))
            metrics.update(
                add_anomaly_evaluation(
                    report,
                    (data.y_test == config.anomaly_class).astype(int),
                    test_errors,
                    split.y_val,
                    val_errors,
                    anomaly_name=f"class {data.class_names[config.anomaly_class]}",
                )
            )
        if report.history:
            report.add_figure(
                "learning_curves",
                plots.learning_curves_figure(report.history),
                title="Learning curves",
                caption="Training and validation loss per epoch.",
            )
    return metrics


def evaluate_saved(model: keras.Model, config: DenoisingAutoencoderConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved model on the configured dataset's test split."""
    data = load_mnist_family(config.dataset, config.data_dir)
    split = split_data(data, config)
    ctx.report.dataset = describe_dataset(data, split, config)
    evaluate_model(model, data, split, config, ctx)


@register(
    "denoising_autoencoder",
    config=DenoisingAutoencoderConfig,
    evaluate=evaluate_saved,
    summary="Convolutional denoising autoencoder (MNIST-family), with anomaly detection by reconstruction.",
)
def train(config: DenoisingAutoencoderConfig, ctx: RunContext) -> keras.Model:
    # Prepare the data: the anomaly class held out, corruption drawn on the fly.
    data = load_mnist_family(config.dataset, config.data_dir)
    split = split_data(data, config)
    ctx.report.dataset = describe_dataset(data, split, config)
    corruption = make_corruption(config)
    train_ds = make_denoising_dataset(
        split.x_train,
        batch_size=config.batch_size,
        training=True,
        corruption=corruption,
        seed=config.seed,
        augment=config.augment,
        cache=config.use_cache,
    )
    val_ds = make_denoising_dataset(
        split.x_val[split.y_val == 0],
        batch_size=512,
        training=False,
        corruption=corruption,
        seed=config.seed,
        cache=config.use_cache,
    )

    # Build the model under the device strategy.
    steps_per_epoch = math.ceil(len(split.x_train) / config.batch_size)
    with compile_scope(
        ctx.strategy, jit_compile=config.jit_compile, steps_per_execution=config.steps_per_execution
    ) as options:
        model = make_denoising_autoencoder(
            stem_filters=config.stem_filters,
            filters=config.filters,
            latent_filters=config.latent_filters,
            convs_per_stage=config.convs_per_stage,
        )
        optimizer, schedule = make_budgeted_optimizer(config, steps_per_epoch, config.time_budget_seconds)
        model.compile(
            optimizer=optimizer,
            loss=LOSSES[config.loss](),
            metrics=[keras.metrics.MeanSquaredError(name="mse")] if config.loss != "mse" else None,
            **options,
        )

    # Train.
    with ctx.timer("train_seconds"):
        ctx.report.history = fit(model, train_ds, val_ds, config, ctx.run_dir, extra_callbacks=schedule)

    # Evaluate on the canonical test set.
    metrics = evaluate_model(model, data, split, config, ctx)
    ctx.model_card.update(
        inputs="float32 noisy images (n, 28, 28, 1) in [0, 1]: uint8 pixels divided by 255",
        outputs="denoised images (n, 28, 28, 1) in [0, 1] (sigmoid)",
        sub_models={
            "encoder": "image -> latent " + "x".join(map(str, model.get_layer("encoder").output.shape[1:])),
            "decoder": "latent -> image",
        },
        helpers="pipelines.nets.autoencoder.denoise(model, images) and encode(model, images)",
        corruption=dataclasses.asdict(corruption),
        anomaly_class=None if config.anomaly_class is None else data.class_names[config.anomaly_class],
        anomaly_threshold_error=metrics.get("anomaly_threshold_error"),
        anomaly_rule="anomalous when the mean squared error of denoise(x) against x >= anomaly_threshold_error",
        training_state="not saved: the file holds the network only (see checkpoints/ for the optimizer state)",
        parameters=int(model.count_params()),
    )
    # Saved uncompiled: the training loss is our PSNRLoss, and a file naming it would not
    # load in a process that has not imported this package.
    return keras.Model(model.input, model.output, name=model.name)


def _add_psnr_curve(model: keras.Model, x: np.ndarray, corruption: Corruption, config, report) -> None:
    clean, rows = x[..., None].astype("float32") / 255.0, []
    for level in config.curve_levels:
        noisy = corrupt_images(x, corruption.at_level(level), seed=config.test_noise_seed)
        rows.append(
            {
                "level": level,
                "psnr_noisy": float(psnr_ssim(clean, noisy, with_ssim=False)[0].mean()),
                "psnr_denoised": float(psnr_ssim(clean, denoise(model, noisy), with_ssim=False)[0].mean()),
            }
        )
    report.add_table("PSNR against noise level", rows, note=f"Mean over the first {len(x)} test images.")
    report.add_figure(
        "psnr_vs_noise",
        psnr_curve_figure(
            [r["level"] for r in rows],
            [r["psnr_noisy"] for r in rows],
            [r["psnr_denoised"] for r in rows],
            trained_level=corruption.level,
            xlabel=f"{corruption.kind} level",
        ),
        title="PSNR against noise level",
        caption="The model was trained at the dashed level only.",
    )
