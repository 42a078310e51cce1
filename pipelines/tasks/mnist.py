"""MNIST digit classification with a small CNN.

Data: the canonical MNIST IDX files (60k train / 10k test), or Fashion-MNIST, or
scikit-learn's bundled 8x8 `digits` (upsampled to 28x28). A seeded, stratified slice of
the training set is held out for validation; the canonical test set is only used for the
report. Metric: accuracy, plus the full classification report (F1, ROC/AUC, calibration).

Example:
    >>> import pipelines
    >>> result = pipelines.run("mnist", epochs=1, max_train_samples=2000)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from pipelines.config import AugmentConfig, TrainConfig, param
from pipelines.errors import ConfigError, DatasetUnavailable
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.inputs.images import make_image_dataset
from pipelines.inputs.mnist import ImageData, load_mnist_family
from pipelines.inputs.splits import train_val_split
from pipelines.nets.cnn import make_cnn
from pipelines.registry import register
from pipelines.training import fit, make_optimizer, steps_per_execution_for

IMAGE_DATASETS = ("mnist", "fashion_mnist", "digits")


@dataclass
class MnistConfig(TrainConfig):
    """Configuration of the `mnist` pipeline. Defaults are the measured best on 2 CPU cores."""

    dataset: str = param("mnist", "Which images: mnist, fashion_mnist or digits.", choices=IMAGE_DATASETS)
    fallback_dataset: str | None = param(
        None, "Dataset to run instead when `dataset`'s files are unavailable (the report says so).",
        choices=(None, *IMAGE_DATASETS),
    )
    epochs: int = param(9, "Maximum number of training epochs.", ge=1)
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(3e-3, "Peak learning rate.", gt=0)
    warmup_epochs: float = param(0.5, "Linear warm-up length before cosine decay.", ge=0)
    augment: AugmentConfig = param(doc="Training-only augmentation.", factory=AugmentConfig)
    use_cache: bool = param(True, "Cache the scaled images in memory before augmentation.")
    stem_filters: int = param(32, "Filters of the 5x5 stem convolution.", ge=1)
    filters: tuple[int, ...] = param((48,), "Filters of each CNN stage after the stem.")
    convs: tuple[int, ...] = param((2,), "Convolutions in each stage.")
    dense_units: int = param(0, "Hidden dense layer width (0: none).", ge=0)
    dropout: float = param(0.0, "Spatial dropout after each stage.", ge=0, lt=1)
    head_dropout: float = param(0.3, "Dropout before the output layer.", ge=0, lt=1)
    steps_per_execution: int = param(16, "Training steps per compiled graph call (measured ~12 % faster than 1).", ge=1)

    def validate(self) -> None:
        if not self.filters or min(self.filters) < 1 or len(self.convs) != len(self.filters) or min(self.convs) < 1:
            raise ConfigError(
                "filters and convs need one positive integer per stage. "
                f"Received: filters={self.filters}, convs={self.convs}"
            )


def load_images(config: MnistConfig) -> ImageData:
    """Loads the configured dataset, or the fallback when its files are unavailable."""
    try:
        return load_mnist_family(config.dataset, config.data_dir)
    except DatasetUnavailable:
        if config.fallback_dataset is None or config.fallback_dataset == config.dataset:
            raise
        print(f"Dataset {config.dataset!r} is unavailable; running on the fallback {config.fallback_dataset!r}.")
        data = load_mnist_family(config.fallback_dataset, None)
        data.info["fallback_for"] = config.dataset
        return data


def to_28x28(x: np.ndarray) -> np.ndarray:
    """Bilinearly resizes uint8 images to 28x28 (for the 8x8 `digits`); others pass through."""
    if x.shape[1:3] == (28, 28):
        return x
    resized = tf.image.resize(x[..., None].astype("float32"), (28, 28)).numpy()[..., 0]
    return np.clip(np.round(resized), 0, 255).astype("uint8")


def describe_dataset(data: ImageData, n_train: int, n_val: int) -> dict:
    info = dict(data.info)
    info["splits"] = {"train": n_train, "validation": n_val, "test": len(data.y_test)}
    info["image_shape"] = list(data.x_train.shape[1:])
    if "fallback_for" in info:
        info["note"] = (f"The requested dataset {info['fallback_for']!r} was unavailable; "
                        f"this report is for {info['name']!r}.")
    return info


def make_model(config: MnistConfig, num_classes: int) -> keras.Model:
    return make_cnn(
        (28, 28, 1), num_classes,
        stem_filters=config.stem_filters, filters=config.filters, convs=config.convs,
        dense_units=config.dense_units, dropout=config.dropout, head_dropout=config.head_dropout,
    )


def evaluate_model(model: keras.Model, data: ImageData, config: MnistConfig, ctx) -> dict:
    """Predicts the test set and adds the classification report; returns the metrics."""
    x_test = to_28x28(data.x_test)
    with ctx.timer("eval_seconds"):
        test_ds = make_image_dataset(x_test, None, batch_size=512, training=False)
        logits = model.predict(test_ds, verbose=0)
        proba = tf.nn.softmax(logits.astype("float64")).numpy()
        metrics = add_classification_evaluation(
            ctx.report, data.y_test, proba, data.class_names, images=x_test, history=ctx.report.history or None
        )
    return metrics


def evaluate_saved(model: keras.Model, config: MnistConfig, ctx) -> None:
    """The CLI's `evaluate`: a saved model on the configured dataset's test split."""
    data = load_images(config)
    ctx.report.dataset = describe_dataset(data, 0, 0)
    evaluate_model(model, data, config, ctx)


@register("mnist", config=MnistConfig, evaluate=evaluate_saved,
          summary="MNIST-family digit classification with a small CNN.")
def train(config: MnistConfig, ctx) -> keras.Model:
    # Prepare the data: a seeded, stratified validation split of the training set.
    data = load_images(config)
    x_train, y_train, x_val, y_val = train_val_split(
        to_28x28(data.x_train), data.y_train, config.validation_fraction, config.seed
    )
    if config.max_train_samples is not None and config.max_train_samples < len(y_train):
        x_train, y_train = x_train[: config.max_train_samples], y_train[: config.max_train_samples]
    ctx.report.dataset = describe_dataset(data, len(y_train), len(y_val))

    train_ds = make_image_dataset(x_train, y_train, batch_size=config.batch_size, training=True,
                                  augment=config.augment, seed=config.seed, cache=config.use_cache)
    val_ds = make_image_dataset(x_val, y_val, batch_size=512, training=False, cache=config.use_cache)

    # Build the model under the device strategy.
    steps_per_epoch = math.ceil(len(y_train) / config.batch_size)
    with ctx.strategy.scope():
        model = make_model(config, len(data.class_names))
        model.compile(
            optimizer=make_optimizer(config, steps_per_epoch),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=config.jit_compile,
            steps_per_execution=steps_per_execution_for(ctx.strategy, config.steps_per_execution),
        )

    # Train.
    with ctx.timer("train_seconds"):
        ctx.report.history = fit(model, train_ds, val_ds, config, ctx.run_dir)

    # Evaluate on the canonical test set.
    evaluate_model(model, data, config, ctx)
    ctx.model_card.update(
        inputs="float32 images (n, 28, 28, 1) in [0, 1]: uint8 pixels divided by 255",
        outputs=f"logits over {len(data.class_names)} classes; apply softmax for probabilities",
        class_names=list(data.class_names),
        parameters=int(model.count_params()),
    )
    return model
