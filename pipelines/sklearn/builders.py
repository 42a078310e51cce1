"""Model builders: the functions that build the net of a `KerasClassifier` or `KerasRegressor`.

The `model` parameter gives the builder: a pipeline net name (`"mlp"`, `"cnn"`, `"vit"`, see
`NETS`) or your own function returning a `keras.Model`. The builder receives the
`model__<arg>` parameters as keyword arguments, plus whichever of these its signature
names: `input_shape` (one sample's shape), `n_features_in`, `n_outputs` (classes of a
classifier, targets of a regressor), `n_classes`, `X` and `y` (the encoded training
data, e.g. to adapt a `Normalization` layer), and `task` (`"classification"` or
`"regression"`).

`NETS` holds the pipeline nets by name, `resolve_builder` turns a `model` parameter
into a builder, and `call_with_meta` calls a builder with the meta arguments its
signature names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

from pipelines.errors import ConfigError

__all__ = ["NETS", "call_with_meta", "resolve_builder"]


def make_mlp_net(
    X: np.ndarray,
    y: np.ndarray,
    n_outputs: int,
    task: str,
    *,
    widths: tuple[int, ...] = (64, 64),
    activation: str = "gelu",
) -> keras.Model:
    """The advertising pipeline's MLP (`pipelines.nets.mlp.make_mlp`), sized to the data.

    Its input `Normalization` is adapted on `X`; a regressor's output is mapped back
    through a `Normalization(invert=True)` adapted on `y`, so the net fits standardized
    targets and predicts raw units, with no scaler needed in front of it.
    """
    from pipelines.nets.mlp import make_mlp

    if X.ndim != 2:
        raise ConfigError(
            f"net 'mlp' needs 2-D X (n_samples, n_features). Received: X of shape {X.shape}. "
            "Use net 'cnn' or 'vit' for images."
        )
    feature_norm = keras.layers.Normalization(dtype="float32", name="feature_norm")
    feature_norm.adapt(X.astype("float32"))
    target_norm = None
    if task == "regression":
        target_norm = keras.layers.Normalization(invert=True, dtype="float32", name="target_norm")
        target_norm.adapt(y.reshape(len(y), -1).astype("float32"))
    return make_mlp(
        X.shape[1],
        feature_norm=feature_norm,
        target_norm=target_norm,
        widths=tuple(widths),
        activation=activation,
        outputs=n_outputs,
    )


def make_cnn_net(input_shape: tuple[int, ...], n_outputs: int, task: str, **kwargs: Any) -> keras.Model:
    """The mnist pipeline's CNN (`pipelines.nets.cnn.make_cnn`) for images `(h, w, c)`."""
    from pipelines.nets.cnn import make_cnn

    _check_image_net("cnn", input_shape, task)
    return make_cnn(input_shape, n_outputs, **kwargs)


def make_vit_net(input_shape: tuple[int, ...], n_outputs: int, task: str, **kwargs: Any) -> keras.Model:
    """The vit pipeline's Vision Transformer (`pipelines.nets.vit.make_vit`) for images `(h, w, c)`.

    The patch size defaults to the pipeline's 7 (16 patches on 28x28), or to the first of
    8, 6, 4, 3, 2 that divides the image (8 on CIFAR's 32x32): make_vit's own default of 4
    costs about 4.5x more time per epoch on CPU.
    """
    from pipelines.nets.vit import make_vit

    _check_image_net("vit", input_shape, task)
    height, width = input_shape[:2]
    patch = next(p for p in (7, 8, 6, 4, 3, 2, 1) if height % p == 0 and width % p == 0)
    return make_vit(input_shape, n_outputs, **{"patch_size": patch, **kwargs})


def _check_image_net(name: str, input_shape: tuple[int, ...], task: str) -> None:
    if task != "classification":
        raise ConfigError(f"net {name!r} is a classifier. Received: task={task!r}. Pass a builder function instead.")
    if len(input_shape) != 3:
        raise ConfigError(
            f"net {name!r} needs images X of shape (n, height, width, channels). Received: one sample "
            f"of shape {input_shape}. ImageClassifier accepts (n, h, w), (n, h, w, c) and flat (n, h * w) rows."
        )


# Pipeline nets by name: what `model="<name>"` builds.
NETS: dict[str, Callable[..., keras.Model]] = {"mlp": make_mlp_net, "cnn": make_cnn_net, "vit": make_vit_net}


def resolve_builder(model: Any) -> Callable[..., keras.Model]:
    """The builder function for a `model` parameter: a `NETS` name or a callable.

    Raises:
        ConfigError: An unknown name (the known ones are listed), a `keras.Model`
            instance (it would be shared by every clone), or anything else.
    """
    if isinstance(model, str):
        if model not in NETS:
            raise ConfigError(
                f"unknown net {model!r}. Known nets: {sorted(NETS)}; or pass a function that returns a keras.Model."
            )
        return NETS[model]
    if isinstance(model, keras.Model):
        raise ConfigError(
            "expected a function that builds a keras.Model, or a net name. Received a keras.Model "
            "instance, which every clone and refit would share and keep training. Pass "
            "`model=lambda: ...` or a function, e.g. `def build(): return keras.Sequential([...])`."
        )
    if callable(model):
        return model
    raise ConfigError(
        f"expected model to be a net name {sorted(NETS)} or a function returning a keras.Model. "
        f"Received: model={model!r}"
    )


def call_with_meta(builder: Callable[..., Any], kwargs: dict[str, Any], meta: dict[str, Any]) -> Any:
    """Calls `builder(**meta_it_names, **kwargs)`: only the meta arguments its signature names.

    Raises:
        ConfigError: `kwargs` holds an argument the builder does not take.
    """
    parameters: Mapping[str, inspect.Parameter]
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        parameters = {}
    has_var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    unknown = [key for key in kwargs if key not in parameters and not has_var_keyword]
    if unknown:
        name = getattr(builder, "__name__", repr(builder))
        raise ConfigError(
            f"model__ arguments {sorted(unknown)} are not arguments of {name}. "
            f"Its arguments are {[p for p in parameters if p not in meta]}."
        )
    given = {key: value for key, value in meta.items() if key in parameters and key not in kwargs}
    try:
        return builder(**given, **kwargs)
    except TypeError as e:
        # A builder that forwards **kwargs (the image nets) fails one call deeper.
        if "unexpected keyword argument" not in str(e):
            raise
        raise ConfigError(
            f"a model__ argument is not an argument of the net: {e}. Received model__ arguments {sorted(kwargs)}."
        ) from e
