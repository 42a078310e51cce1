"""Transfer learning for the image classifiers: start from a trained model (`init_from`).

The source is a finished run's folder, its `model.keras`, or a kept model's name (in
`pipelines.model_store`). Its layers up to the head become the backbone:
- a classifier (`mnist`, `vit`) gives the features its last Dense layer reads; with as many
  classes as this run, its head is kept too (fine-tuning continues it), else a new head;
- a `denoising_autoencoder` gives its encoder, its code flattened (where a stroke lies
  matters), under a new head: the classic pre-train (on unlabelled images) then fine-tune
  recipe.
The architecture is the source's: the config's net fields do not apply.

`freeze="backbone"` trains the new head alone first (`head_epochs`, at `learning_rate`),
then everything (`epochs`, at `finetune_learning_rate`), so that the random head's first
large gradients do not wreck the trained features; `freeze="none"` trains everything from
the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from pipelines.calibration import TemperatureScaling
from pipelines.errors import ConfigError

__all__ = ["FREEZES", "source_path", "check_init_from", "Transfer", "load_source", "transfer_model"]

FREEZES = ("none", "backbone")
SOURCE_HELP = "a finished run's folder, its model.keras, or a kept model's name"


def source_path(init_from: str) -> Path | None:
    """The `.keras` file `init_from` names, or `None` when there is none."""
    path = Path(init_from).expanduser()
    if path.is_dir():
        path = path / "model.keras"
    if path.is_file() and path.suffix == ".keras":
        return path
    if Path(init_from).name == init_from and "." not in init_from:
        from pipelines.model_store import models_dir

        kept = models_dir() / f"{init_from}.keras"
        return kept if kept.is_file() else None
    return None


def check_init_from(init_from: str | None, freeze: str) -> None:
    """Refuses a source that does not exist, and a frozen backbone without a source.

    Raises:
        ConfigError: Naming what `init_from` may be.
    """
    if init_from is None:
        if freeze != "none":
            raise ConfigError(f"freeze={freeze!r} needs init_from (a trained backbone to freeze). Received: None")
        return
    if source_path(init_from) is None:
        raise ConfigError(f"init_from must be {SOURCE_HELP}. Received: {init_from!r} (no such model)")


class Transfer:
    """What a source model gives a new classifier: its backbone, and its head when it fits.

    Attributes:
        source: The loaded source model (calibration layer removed).
        path: Its file.
        kind: `"classifier"` or `"encoder"`.
        keeps_head: Whether the source's head is reused (a classifier of as many classes).
    """

    def __init__(self, source: keras.Model, path: Path, num_classes: int, input_shape: tuple[int, ...]) -> None:
        self.path = path
        if tuple(source.inputs[0].shape[1:]) != tuple(input_shape):
            raise ConfigError(
                f"init_from takes images of shape {tuple(source.inputs[0].shape[1:])}; this run's are "
                f"{tuple(input_shape)}. Received: init_from={str(path)!r}"
            )
        if isinstance(source.layers[-1], TemperatureScaling):  # the logits before calibration
            source = keras.Model(source.inputs, source.layers[-1].input, name=source.name)
        self.source = source
        encoders = [layer for layer in source.layers if isinstance(layer, keras.Model) and layer.name == "encoder"]
        if encoders:
            self.kind, self.keeps_head = "encoder", False
        elif isinstance(source.layers[-1], keras.layers.Dense):
            self.kind = "classifier"
            self.keeps_head = int(source.outputs[0].shape[-1]) == num_classes
        else:
            raise ConfigError(
                "init_from needs an image classifier (ending in a Dense layer) or a denoising autoencoder "
                f"(with an encoder). Received: {str(path)!r}, ending in {type(source.layers[-1]).__name__}"
            )

    def describe(self) -> str:
        if self.kind == "encoder":
            return f"the encoder of the denoising autoencoder {self.path}, its code flattened, a new head"
        head = "its head kept (as many classes)" if self.keeps_head else "a new head (the classes differ)"
        return f"the layers of {self.path} up to its head, {head}"


def load_source(init_from: str, num_classes: int, input_shape: tuple[int, ...]) -> Transfer:
    """Loads the source of `init_from` (safe mode) for a classifier of `num_classes` classes."""
    from pipelines.models import load_model

    path = source_path(init_from)
    if path is None:
        raise ConfigError(f"init_from must be {SOURCE_HELP}. Received: {init_from!r} (no such model)")
    return Transfer(load_model(path), path, num_classes, input_shape)


def transfer_model(transfer: Transfer, num_classes: int) -> tuple[keras.Model, list[keras.layers.Layer]]:
    """A new classifier on a copy of the source's layers, and its head layers.

    Build it under the strategy's scope: the copy's variables are created there and take
    the source's values.
    """
    copy = keras.models.clone_model(transfer.source)
    copy.set_weights(transfer.source.get_weights())
    if transfer.keeps_head:
        return copy, [copy.layers[-1]]
    if transfer.kind == "encoder":
        encoder = next(layer for layer in copy.layers if isinstance(layer, keras.Model) and layer.name == "encoder")
        inputs = keras.Input(tuple(encoder.inputs[0].shape[1:]), name="image")
        features = keras.layers.Flatten(name="code")(encoder(inputs))  # where a stroke is matters: no pooling
    else:
        inputs, features = copy.inputs, copy.layers[-1].input
    head = keras.layers.Dense(num_classes, dtype="float32", name="logits_new")
    model = keras.Model(inputs, head(features), name=f"{transfer.source.name}_transfer")
    return model, [head]


def set_backbone_trainable(model: keras.Model, head: list[keras.layers.Layer], trainable: bool) -> None:
    """Freezes (or unfreezes) every layer of `model` but its head; batch normalization in a
    frozen backbone then runs in inference mode, keeping the source's statistics."""
    head_ids = {id(layer) for layer in head}
    for layer in model.layers:
        if id(layer) not in head_ids and layer.weights:
            layer.trainable = trainable


def concat_histories(*histories: dict[str, Any]) -> dict[str, list[float]]:
    """The per-epoch histories of consecutive phases, end to end."""
    keys = [k for k in histories[0] if all(k in h for h in histories)]
    return {k: [float(v) for h in histories for v in h[k]] for k in keys}
