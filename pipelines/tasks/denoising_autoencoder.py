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
from typing import TYPE_CHECKING

import keras

from pipelines.budget import make_budgeted_optimizer
from pipelines.config import MAX_EPOCHS, TEST_EVALUATION_DOC, TrainConfig, param
from pipelines.epoch_seeds import EpochSeeds
from pipelines.errors import ConfigError
from pipelines.inputs.corruption import CORRUPTIONS, Corruption, ShiftConfig, make_denoising_dataset
from pipelines.inputs.mnist import load_mnist_family
from pipelines.models import check_model_io
from pipelines.nets.autoencoder import PSNRLoss, make_denoising_autoencoder
from pipelines.recipes.denoising import describe_dataset, evaluate_model, split_data
from pipelines.registry import register
from pipelines.training import compile_scope, fit, fit_options, schedule_of
from pipelines.tuning.objective import TuneSpec

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
    epochs: int = param(5, "Maximum number of training epochs.", ge=1, le=MAX_EPOCHS)
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(3e-3, "Peak learning rate (Adam, cosine decay to 0).", gt=0)
    warmup_epochs: float = param(0.3, "Linear warm-up length before cosine decay.", ge=0)
    steps_per_execution: int = param(16, "Training steps per compiled graph call.", ge=1)
    test_evaluation: bool = param(True, TEST_EVALUATION_DOC)
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
        if self.time_budget_seconds is not None and self.schedule != "cosine":
            raise ConfigError(
                "time_budget_seconds anneals the learning rate by cosine over the budget. "
                f"Received: schedule={self.schedule!r}; use schedule=cosine, or no time budget"
            )


def make_corruption(config: DenoisingAutoencoderConfig) -> Corruption:
    low, high = config.mask_fraction
    return Corruption(config.corruption, config.noise_factor, (low, high), config.salt_pepper_amount)


def check_saved(model: keras.Model, config: DenoisingAutoencoderConfig) -> None:
    """`evaluate`'s check of a saved model: noisy 28x28x1 images in, denoised ones out."""
    check_model_io(model, [((28, 28, 1), "float")], (28, 28, 1), task="denoising_autoencoder")


def evaluate_saved(model: keras.Model, config: DenoisingAutoencoderConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved model on the configured dataset's test split."""
    data = load_mnist_family(config.dataset, config.data_dir)
    split = split_data(data, config)
    ctx.report.dataset = describe_dataset(data, split, config)
    evaluate_model(model, data, split, make_corruption(config), config, ctx)


# `pipelines tune denoising_autoencoder`: the best validation loss of quick trials (the
# noise and the task stay as configured; the net and its training are searched).
TUNE = TuneSpec(
    "val_loss",
    "minimize",
    source="history",
    space={
        "learning_rate": "log:1e-3:1e-2",
        "batch_size": "choice:64,128,256",
        "stem_filters": "choice:8,16,32",
        "latent_filters": "choice:16,32,64",
    },
    trial_settings={"test_evaluation": False, "epochs": 3, "max_train_samples": 12000},
    final_settings={"test_evaluation": True},
)


@register(
    "denoising_autoencoder",
    config=DenoisingAutoencoderConfig,
    evaluate=evaluate_saved,
    check_model=check_saved,
    tune=TUNE,
    summary="Convolutional denoising autoencoder (MNIST-family), with anomaly detection by reconstruction.",
)
def train(config: DenoisingAutoencoderConfig, ctx: RunContext) -> keras.Model:
    # Prepare the data: the anomaly class held out, corruption drawn on the fly.
    data = load_mnist_family(config.dataset, config.data_dir)
    split = split_data(data, config)
    ctx.report.dataset = describe_dataset(data, split, config)
    corruption = make_corruption(config)
    epoch_seeds = EpochSeeds(config.seed)  # order, augmentation and noise drawn from (seed, epoch)
    train_ds = make_denoising_dataset(
        split.x_train,
        batch_size=config.batch_size,
        training=True,
        corruption=corruption,
        seed=config.seed,
        augment=config.augment,
        cache=config.use_cache,
        epoch_seeds=epoch_seeds,
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
        ctx.strategy,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
        steps_per_epoch=steps_per_epoch,
    ) as options:
        model = make_denoising_autoencoder(
            stem_filters=config.stem_filters,
            filters=config.filters,
            latent_filters=config.latent_filters,
            convs_per_stage=config.convs_per_stage,
        )
        optimizer, schedule = make_budgeted_optimizer(
            **schedule_of(config), steps_per_epoch=steps_per_epoch, seconds=config.time_budget_seconds
        )
        model.compile(
            optimizer=optimizer,
            loss=LOSSES[config.loss](),
            metrics=[keras.metrics.MeanSquaredError(name="mse")] if config.loss != "mse" else None,
            **options,
        )

    # Train.
    with ctx.timer("train_seconds"):
        ctx.report.history = fit(
            model, train_ds, val_ds, ctx.run_dir, **fit_options(config), extra_callbacks=[*schedule, epoch_seeds]
        )

    # Evaluate on the canonical test set (not in a tuning trial, scored on the validation split).
    metrics: dict = {}
    if config.test_evaluation:
        metrics = evaluate_model(model, data, split, corruption, config, ctx)
    else:
        ctx.report.add_text("Test set", "Not evaluated (test_evaluation=false): a tuning trial, scored on val_loss.")
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
