"""The image classifier stages that `mnist` and `vit` share, in the order a task calls them:
`prepare_images` (a named image dataset, a seeded validation split, the tf.data steps),
`compile_image_classifier` (under the device strategy), `train_image_classifier` (`fit()`,
or the custom loop on a cluster), `calibrate_image_classifier` (temperature scaling on the
validation split, when asked) and `evaluate_image_classifier` (the classification report
on the canonical test set). A task module brings its config (a subclass of
`ImageClassifierConfig`) and its net.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.calibration import (
    CALIBRATE_DOC,
    CALIBRATIONS,
    fit_temperature,
    temperature_of,
    uncalibrated_metrics,
    with_temperature,
)
from pipelines.class_weights import CLASS_WEIGHT_DOC, check_class_weight, class_weights
from pipelines.config import MAX_EPOCHS, TEST_EVALUATION_DOC, AugmentConfig, TrainConfig, param
from pipelines.epoch_seeds import EpochSeeds
from pipelines.errors import ConfigError
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.inputs.image_sets import IMAGE_SHAPES, model_shape
from pipelines.inputs.images import make_image_dataset
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.splits import train_val_split
from pipelines.models import check_model_io
from pipelines.recipes.image_classifier_cluster import cluster_steps_per_epoch, fit_on_cluster, sparse_or_smoothed
from pipelines.recipes.image_sources import check_dataset, image_shapes, load_images, num_classes
from pipelines.recipes.transfer import (
    FREEZES,
    SOURCE_HELP,
    check_init_from,
    concat_histories,
    load_source,
    set_backbone_trainable,
    transfer_model,
)
from pipelines.training import compile_scope, fit, fit_options, make_optimizer, schedule_of

if TYPE_CHECKING:
    from pipelines.runner import RunContext

__all__ = [
    "ImageClassifierConfig",
    "describe_dataset",
    "evaluate_model",
    "evaluate_saved_classifier",
    "check_saved_classifier",
    "ImageSplits",
    "prepare_images",
    "compile_image_classifier",
    "train_image_classifier",
    "calibrate_image_classifier",
    "evaluate_image_classifier",
]


@dataclass
class ImageClassifierConfig(TrainConfig):
    """Data and input-step settings shared by the image classifier pipelines."""

    dataset: str = param(
        "mnist",
        "Which images: mnist, fashion_mnist, digits (8x8, upsampled to 28x28), cifar10, a folder of class "
        "folders (ROOT/<class>/<images>, or ROOT/train/ and ROOT/test/ with the same classes), tfds:NAME "
        "(a prepared TensorFlow Datasets set), or an .npz of x and y (a run's input.npz).",
    )
    fallback_dataset: str | None = param(
        None,
        "Dataset to run instead when `dataset`'s files are unavailable (the report says so).",
        choices=(None, *IMAGE_SHAPES),
    )
    image_size: tuple[int, int] | None = param(
        None,
        "A folder's or tfds set's images resized to (height, width); None: their own size, when they share one.",
        ge=1,
    )
    channels: int | None = param(
        None,
        "A folder's or tfds set's images as 1 (grayscale) or 3 (RGB) channels; None: their own, when all are alike.",
        choices=(None, 1, 3),
    )
    test_fraction: float = param(
        0.2,
        "A folder without train/ and test/, or arrays: the stratified share held out for testing (seed 0).",
        gt=0,
        lt=1,
    )
    skip_bad_images: bool = param(
        False, "A folder's undecodable images: leave them out and count them in the report (else refuse the run)."
    )
    augment: AugmentConfig = param(doc="Training-only augmentation.", factory=AugmentConfig)
    use_cache: bool = param(True, "Cache the images in memory before augmentation.")
    label_smoothing: float = param(0.0, "Label smoothing of the cross-entropy loss.", ge=0, lt=1)
    class_weight: str | tuple[float, ...] | None = param(None, CLASS_WEIGHT_DOC)
    calibrate: str = param("none", CALIBRATE_DOC, choices=CALIBRATIONS)
    test_evaluation: bool = param(True, TEST_EVALUATION_DOC)
    init_from: str | None = param(
        None,
        f"Start from a trained model: {SOURCE_HELP} (a classifier, or a denoising_autoencoder's encoder); "
        "its architecture replaces the net fields.",
    )
    freeze: str = param(
        "none",
        "With init_from: none (train everything) | backbone (train the head alone for head_epochs, "
        "then everything for epochs at finetune_learning_rate).",
        choices=FREEZES,
    )
    head_epochs: int = param(2, "Epochs of the head alone when freeze=backbone.", ge=1, le=MAX_EPOCHS)
    finetune_learning_rate: float | None = param(
        None, "Peak learning rate once the backbone is unfrozen; None: learning_rate / 10.", gt=0
    )

    def validate(self) -> None:
        check_class_weight(self.class_weight)
        check_init_from(self.init_from, self.freeze)
        check_dataset(self)

    def image_shapes(self) -> list[tuple[int, int, int]]:
        """The image shapes a run may train on (see `recipes.image_sources.image_shapes`)."""
        return image_shapes(self)


def describe_dataset(data: ImageData, n_train: int | None, n_val: int | None) -> dict:
    """The report's dataset section; `None` split sizes (a saved model's evaluation) are left out."""
    info = dict(data.info)
    info["splits"] = {"test": len(data.y_test)}
    if n_train is not None:
        info["splits"] = {"train": n_train, "validation": n_val, "test": len(data.y_test)}
    info["image_shape"] = list(data.x_train.shape[1:])
    if "fallback_for" in info:
        info["note"] = (
            f"The requested dataset {info['fallback_for']!r} was unavailable; this report is for {info['name']!r}."
        )
    return info


def evaluate_model(model: keras.Model, data: ImageData, ctx: RunContext) -> dict:
    """Predicts the test set and adds the classification report; returns the metrics."""
    x_test = data.x_test
    with ctx.timer("eval_seconds"):
        test_ds = make_image_dataset(x_test, None, batch_size=512, training=False)
        logits = model.predict(test_ds, verbose=0)
        proba = tf.nn.softmax(logits.astype("float64")).numpy()
        metrics = add_classification_evaluation(
            ctx.report, data.y_test, proba, data.class_names, images=x_test, history=ctx.report.history or None
        )
        temperature = temperature_of(model)
        if temperature is not None:  # the same predictions before the scaling, for the comparison
            ctx.report.add_metrics(uncalibrated_metrics(data.y_test, proba, temperature))
    return metrics


def evaluate_saved_classifier(model: keras.Model, config: ImageClassifierConfig, ctx: RunContext) -> ImageData:
    """The CLI's `evaluate`: a saved model on the configured dataset's test split; returns the data."""
    data = load_images(config)
    ctx.report.dataset = describe_dataset(data, None, None)
    evaluate_model(model, data, ctx)
    return data


def check_saved_classifier(model: keras.Model, config: ImageClassifierConfig) -> None:
    """`evaluate`'s check of a saved model: the dataset's images in, one logit per class out.

    Raises:
        ModelLoadError: The model takes other inputs or gives another output.
    """
    shape = IMAGE_SHAPES.get(config.dataset) or config.image_shapes()[0]
    check_model_io(model, [(shape, "float")], (num_classes(config),), task=f"{config.dataset} image classifier")


@dataclass
class ImageSplits:
    """The data stage's result: the dataset, its training and validation splits as tf.data.

    Attributes:
        data: The loaded dataset (its test split is only read by `evaluate_image_classifier`).
        x_train: The training images after the validation split and `max_train_samples`.
        y_train: Their labels.
        train_ds: Shuffled, augmented training batches (one-hot labels under label smoothing).
        val_ds: Validation batches.
        steps_per_epoch: Optimizer steps in one epoch (whole global batches on a cluster).
        epoch_seeds: Draws `train_ds`'s order and augmentation, and the model's dropout, from
            (seed, epoch): a callback of the training, so a resumed run repeats the uninterrupted one.
        class_weight: The loss weight of each class (`config.class_weight` on these labels).
    """

    data: ImageData
    x_train: np.ndarray
    y_train: np.ndarray
    train_ds: tf.data.Dataset
    val_ds: tf.data.Dataset
    steps_per_epoch: int
    epoch_seeds: EpochSeeds
    y_val: np.ndarray
    class_weight: dict[int, float] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.data.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the images, as the net takes them."""
        return model_shape(self.x_train)


def prepare_images(config: ImageClassifierConfig, ctx: RunContext) -> ImageSplits:
    """Loads the images, holds out a seeded, stratified validation split and builds the tf.data steps.

    The report's dataset section is filled here; the canonical test split stays untouched.
    """
    if ctx.cluster is not None and config.class_weight is not None:
        raise ConfigError("class_weight is not supported on several workers yet: drop it, or train on one machine.")
    if ctx.cluster is not None and config.calibrate != "none":
        raise ConfigError("calibrate is not supported on several workers yet: drop it, or train on one machine.")
    if ctx.cluster is not None and config.init_from is not None:
        raise ConfigError("init_from is not supported on several workers yet: drop it, or train on one machine.")
    if ctx.cluster is not None and config.overfit_batches:
        raise ConfigError("overfit_batches is a one-machine sanity check: drop it, or train on one machine.")
    data = load_images(config, ctx.data)
    x_train, y_train, x_val, y_val = train_val_split(
        data.x_train, data.y_train, config.validation_fraction, config.seed
    )
    if config.max_train_samples is not None and config.max_train_samples < len(y_train):
        x_train, y_train = x_train[: config.max_train_samples], y_train[: config.max_train_samples]
    ctx.report.dataset = describe_dataset(data, len(y_train), len(y_val))
    num_classes = len(data.class_names)
    epoch_seeds = EpochSeeds(config.seed)
    train_ds = make_image_dataset(
        x_train,
        y_train,
        batch_size=config.batch_size,
        training=True,
        augment=config.augment,
        seed=config.seed,
        cache=config.use_cache,
        num_classes=num_classes,
        epoch_seeds=epoch_seeds,
    )
    val_ds = make_image_dataset(
        x_val, y_val, batch_size=512, training=False, cache=config.use_cache, num_classes=num_classes
    )
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    if ctx.cluster is not None:
        steps_per_epoch = cluster_steps_per_epoch(len(y_train), config.batch_size)
    return ImageSplits(
        data,
        x_train,
        y_train,
        sparse_or_smoothed(train_ds, num_classes, config.label_smoothing),
        sparse_or_smoothed(val_ds, num_classes, config.label_smoothing),
        steps_per_epoch,
        epoch_seeds,
        y_val,
        class_weights(config.class_weight, y_train, num_classes=num_classes),
    )


def compile_image_classifier(
    build_model: Callable[[], keras.Model], config: ImageClassifierConfig, ctx: RunContext, splits: ImageSplits
) -> keras.Model:
    """Builds `build_model()` (float32 logits), or the `init_from` transfer, under the run's
    strategy and compiles it.

    The loss is the cross-entropy of the logits, on one-hot labels under label smoothing
    (Keras 3's sparse loss has none); the optimizer is `make_optimizer`'s schedule. With
    `freeze="backbone"` only the head trains, for `head_epochs`.
    """
    transfer = None
    if config.init_from is not None:
        transfer = load_source(config.init_from, splits.num_classes, splits.image_shape)
        phases = (
            f"the head alone for {config.head_epochs} epochs, then every layer for {config.epochs} epochs at "
            f"learning rate {finetune_learning_rate(config):g}"
            if config.freeze == "backbone"
            else f"every layer from the start, for {config.epochs} epochs"
        )
        ctx.report.add_text("Transfer learning", f"Started from {transfer.describe()}; trained {phases}.")
    frozen = _head_phase(config)
    with _compile_scope(config, ctx, splits) as options:
        if transfer is None:
            model = build_model()
        else:
            model, head = transfer_model(transfer, splits.num_classes)
            if frozen:
                set_backbone_trainable(model, head, False)
        optimizer = make_optimizer(**{**schedule_of(config), **frozen}, steps_per_epoch=splits.steps_per_epoch)
        model.compile(optimizer=optimizer, **_loss_and_metrics(config), **options)
    return model


def _compile_scope(config: ImageClassifierConfig, ctx: RunContext, splits: ImageSplits) -> Any:
    return compile_scope(
        ctx.strategy,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
        steps_per_epoch=splits.steps_per_epoch,
    )


def _head_phase(config: ImageClassifierConfig) -> dict[str, int]:
    # With a frozen backbone the first fit trains the head alone, for head_epochs.
    return {"epochs": config.head_epochs} if config.freeze == "backbone" else {}


def finetune_learning_rate(config: ImageClassifierConfig) -> float:
    return config.finetune_learning_rate or config.learning_rate / 10


def _loss_and_metrics(config: ImageClassifierConfig) -> dict:
    if config.label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
        return {"loss": loss, "metrics": [keras.metrics.CategoricalAccuracy(name="accuracy")]}
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return {"loss": loss, "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}


def _unfreeze_and_finetune(
    model: keras.Model, splits: ImageSplits, config: ImageClassifierConfig, ctx: RunContext
) -> dict[str, list[float]]:
    """The second phase of `freeze="backbone"`: every layer, `epochs` at the fine-tuning rate.

    Its checkpoints and backup live in `finetune/`: a run killed here redoes the (seeded,
    deterministic) head phase and resumes this one.
    """
    with _compile_scope(config, ctx, splits) as options:
        set_backbone_trainable(model, [model.layers[-1]], True)
        schedule = {**schedule_of(config), "learning_rate": finetune_learning_rate(config)}
        model.compile(
            optimizer=make_optimizer(**schedule, steps_per_epoch=splits.steps_per_epoch),
            **_loss_and_metrics(config),
            **options,
        )
    return fit(
        model,
        splits.train_ds,
        splits.val_ds,
        ctx.run_dir / "finetune",
        **{**fit_options(config), "learning_rate": schedule["learning_rate"]},
        extra_callbacks=[splits.epoch_seeds],
        class_weight=splits.class_weight,
    )


def train_image_classifier(
    model: keras.Model, splits: ImageSplits, config: ImageClassifierConfig, ctx: RunContext
) -> keras.Model:
    """Trains `model`: `fit()` on one machine, the custom loop on a cluster.

    Returns:
        The trained model (restored to its best validation epoch by early stopping).
    """
    with ctx.timer("train_seconds"):
        if ctx.cluster is None:
            frozen = _head_phase(config)
            ctx.report.history = fit(
                model,
                splits.train_ds,
                splits.val_ds,
                ctx.run_dir,
                **{**fit_options(config), **frozen},
                extra_callbacks=[splits.epoch_seeds],
                class_weight=splits.class_weight,
            )
            if frozen:
                ctx.report.history = concat_histories(
                    ctx.report.history, _unfreeze_and_finetune(model, splits, config, ctx)
                )
            return model
        return fit_on_cluster(
            model,
            splits.x_train,
            splits.y_train,
            splits.val_ds,
            config,
            ctx,
            splits.num_classes,
            splits.steps_per_epoch,
        )


def calibrate_image_classifier(
    model: keras.Model, splits: ImageSplits, config: ImageClassifierConfig, ctx: RunContext
) -> keras.Model:
    """With `calibrate="temperature"`, `model` with its logits divided by the temperature
    that fits the validation split best (`pipelines.calibration`); else `model` itself."""
    if config.calibrate == "none":
        return model
    with ctx.timer("calibrate_seconds"):
        logits = model.predict(splits.val_ds, verbose=0)
        return with_temperature(model, fit_temperature(logits, splits.y_val))


def evaluate_image_classifier(model: keras.Model, data: ImageData, ctx: RunContext, *, test: bool = True) -> bool:
    """The classification report on the canonical test set (unless `test` is off: a tuning
    trial, scored on the validation split), and the model card.

    Returns:
        Whether this process evaluated on the test set: on a cluster, evaluation and the
        report are the chief's, and the other workers return `False` at once.
    """
    if ctx.cluster is not None and not ctx.cluster.is_chief:
        return False
    if test:
        evaluate_model(model, data, ctx)
    else:
        ctx.report.add_text(
            "Test set",
            "Not evaluated (test_evaluation=false): this run is a tuning trial, scored on its validation split. "
            "The study runs its best configuration once more with the test evaluation on.",
        )
    ctx.model_card.update(
        inputs=f"float32 images (n, {', '.join(map(str, model_shape(data.x_test)))}) in [0, 1]: uint8 pixels / 255",
        outputs=f"logits over {len(data.class_names)} classes; apply softmax for probabilities"
        + (
            ""
            if temperature_of(model) is None
            else f" (divided by the calibrated temperature {temperature_of(model):.4g})"
        ),
        class_names=list(data.class_names),
        parameters=int(model.count_params()),
    )
    return test
