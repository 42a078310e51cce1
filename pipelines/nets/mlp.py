"""Multilayer perceptrons for tabular regression, alone or as one member per CV fold.

`make_mlp` is the deployable model: raw features in, the raw target out, with a Keras
`Normalization` layer at each end, so it needs no preprocessing and no custom objects.

`make_fold_mlp` trains K such networks side by side in one Keras model: every dense
layer is a `StackedDense` holding one weight matrix per member, and member `m` has its
own input `Normalization` adapted on its training rows only. One optimizer step then
updates every member at the cost of a single small network (on CPU the per-op overhead,
not the arithmetic, is what a 200-row MLP pays for), and because the loss is a sum of
per-member terms over disjoint weights, with Adam's per-weight update each member trains
as it would alone. `extract_member` copies one member out into a plain `make_mlp` model.

Example:
    >>> import numpy as np
    >>> x, y = np.random.default_rng(0).random((20, 3)), np.arange(20.0)
    >>> model = make_fold_mlp(x, y, np.ones((20, 2), bool), widths=(8,))
    >>> model.output_shape
    (None, 2, 1)
    >>> extract_member(model, 1).output_shape
    (None, 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

__all__ = ["StackedDense", "make_mlp", "make_fold_mlp", "extract_member"]


@keras.saving.register_keras_serializable(package="pipelines")
class StackedDense(layers.Layer):
    """Independent dense layers, one per member: `(members, batch, in) -> (members, batch, units)`.

    Members lead, so the product is one batched matmul (on CPU about 25% faster per step
    than an einsum over batch-first tensors, which transposes them). Each member's kernel
    is drawn like `glorot_uniform` for an `(in, units)` matrix, so a member starts as a
    `Dense(units)` layer would.

    Args:
        units: Output width of each member.
        activation: Activation name. Defaults to `None` (linear).
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> layer = StackedDense(4)
        >>> tuple(layer(np.zeros((2, 3, 5), "float32")).shape)
        (2, 3, 4)
    """

    def __init__(self, units: int, activation: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"expected a positive integer. Received: units={units!r}")
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape: tuple) -> None:
        members, fan_in = input_shape[0], input_shape[-1]
        # glorot_uniform on the full (members, in, units) shape would count the members
        # in the fan and start each member with too small weights.
        limit = math.sqrt(6.0 / (fan_in + self.units))
        self.kernel = self.add_weight(
            name="kernel",
            shape=(members, fan_in, self.units),
            initializer=keras.initializers.RandomUniform(-limit, limit),
        )
        self.bias = self.add_weight(name="bias", shape=(members, 1, self.units), initializer="zeros")

    def call(self, inputs):
        return self.activation(ops.matmul(inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {"units": self.units, "activation": keras.activations.serialize(self.activation)}
        return {**base_config, **config}


def make_mlp(
    num_features: int,
    *,
    feature_norm: layers.Normalization,
    target_norm: layers.Normalization | None,
    widths: Sequence[int] = (64, 64),
    activation: str = "gelu",
    outputs: int = 1,
    name: str = "mlp",
) -> keras.Model:
    """Builds `Normalization -> Dense(w, activation) x len(widths) -> Dense(outputs) -> inverse target Normalization`.

    Args:
        num_features: Number of input columns.
        feature_norm: An adapted `Normalization` of the features, `dtype="float32"` so
            that raw budgets are not rounded to a mixed policy's 8-bit mantissa.
        target_norm: An adapted `Normalization(invert=True)` of the target, so the
            network fits a standardized target and the model outputs raw units; `None`
            leaves the head's outputs as they are (e.g. a classifier's logits). Pass it
            with `dtype="float32"` as well.
        widths: Hidden layer widths; `()` gives a linear model. Defaults to `(64, 64)`.
        activation: Hidden activation. Defaults to `"gelu"`.
        outputs: Width of the head: targets of a regressor, classes of a classifier.
            Defaults to `1`.
        name: Model name. Defaults to `"mlp"`.

    Returns:
        A functional model `(n, f) -> (n, outputs)`, float32 under any dtype policy.
    """
    inputs = keras.Input((num_features,), name="features")
    x = feature_norm(inputs)
    for i, width in enumerate(widths):
        x = layers.Dense(width, activation=activation, name=f"hidden_{i}")(x)
    # float32 head: under mixed_bfloat16 a raw sales figure near 20 would be rounded to 0.125.
    x = layers.Dense(outputs, dtype="float32", name="head")(x)
    return keras.Model(inputs, x if target_norm is None else target_norm(x), name=name)


def make_fold_mlp(
    x: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    *,
    widths: Sequence[int] = (64, 64),
    activation: str = "gelu",
    input_noise: float = 0.0,
    name: str = "fold_mlp",
) -> keras.Model:
    """Builds one MLP member per column of `train_mask`, each normalized on its own rows.

    Args:
        x: Features, shape `(n, f)`; used only to adapt the normalizations.
        y: Target, shape `(n,)`; likewise.
        train_mask: Boolean `(n, members)`: which rows each member trains on. Member
            `m`'s `Normalization` layers are adapted on `x[train_mask[:, m]]` only.
        widths: Hidden layer widths; `()` gives linear members. Defaults to `(64, 64)`.
        activation: Hidden activation. Defaults to `"gelu"`.
        input_noise: Standard deviation of Gaussian noise added to the normalized
            features during training only (0 disables it). Defaults to `0.0`.
        name: Model name. Defaults to `"fold_mlp"`.

    Returns:
        A functional model `(n, f) -> (n, members, 1)`, float32 under any dtype policy.

    Raises:
        ValueError: A member has no training row, or the shapes disagree.
    """
    train_mask = np.asarray(train_mask, dtype=bool)
    if train_mask.ndim != 2 or len(train_mask) != len(x) or len(y) != len(x):
        raise ValueError(
            f"expected x (n, f), y (n,) and train_mask (n, members) with the same n. Received shapes "
            f"{np.shape(x)}, {np.shape(y)}, {train_mask.shape}."
        )
    if not train_mask.any(axis=0).all():
        raise ValueError(
            f"expected every member to train on at least one row. Received empty members "
            f"{np.flatnonzero(~train_mask.any(axis=0)).tolist()}."
        )
    members = train_mask.shape[1]
    inputs = keras.Input((x.shape[1],), name="features")
    normalized = []
    for m in range(members):
        # float32, as the raw inputs: a bfloat16 budget of 296.4 would become 296.
        norm = layers.Normalization(dtype="float32", name=f"feature_norm_{m}")
        norm.adapt(x[train_mask[:, m]].astype("float32"))
        normalized.append(norm(inputs))
    h = ops.stack(normalized, axis=0)  # (members, batch, f)
    if input_noise > 0:
        h = layers.GaussianNoise(input_noise, name="input_noise")(h)
    for i, width in enumerate(widths):
        h = StackedDense(width, activation=activation, name=f"hidden_{i}")(h)
    h = ops.transpose(
        StackedDense(1, dtype="float32", name="head")(h), (1, 0, 2)
    )  # (batch, members, 1), as the targets
    # The target statistics of each member's training rows, applied in reverse.
    mean = np.array([y[train_mask[:, m]].mean() for m in range(members)], "float32")
    var = np.array([y[train_mask[:, m]].var() for m in range(members)], "float32")
    target_norm = layers.Normalization(
        axis=1, mean=mean, variance=var, invert=True, dtype="float32", name="target_norm"
    )
    return keras.Model(inputs, target_norm(h), name=name)


def extract_member(model: keras.Model, member: int, *, name: str = "mlp") -> keras.Model:
    """Copies member `member` of a `make_fold_mlp` model into a plain `make_mlp` model.

    The copy gives the same predictions as the member (training-only noise is dropped,
    as it does nothing at inference) and saves and loads without custom objects.

    Args:
        model: A model built by `make_fold_mlp`.
        member: The member index.
        name: Name of the new model. Defaults to `"mlp"`.

    Returns:
        A `make_mlp` model `(n, f) -> (n, 1)` with the member's weights.
    """
    source = model.get_layer(f"feature_norm_{member}")
    feature_norm = layers.Normalization(
        mean=ops.convert_to_numpy(source.mean)[0],
        variance=ops.convert_to_numpy(source.variance)[0],
        dtype="float32",
        name="feature_norm",
    )
    target = model.get_layer("target_norm")
    target_norm = layers.Normalization(
        axis=None,
        invert=True,
        dtype="float32",
        name="target_norm",
        mean=float(ops.convert_to_numpy(target.mean).ravel()[member]),
        variance=float(ops.convert_to_numpy(target.variance).ravel()[member]),
    )
    hidden = [layer for layer in model.layers if isinstance(layer, StackedDense)]
    widths = [layer.units for layer in hidden[:-1]]
    activation = keras.activations.serialize(hidden[0].activation) if widths else "linear"
    plain = make_mlp(
        model.input_shape[-1],
        feature_norm=feature_norm,
        target_norm=target_norm,
        widths=widths,
        activation=activation,
        name=name,
    )
    for stacked in hidden:
        kernel, bias = (ops.convert_to_numpy(w) for w in stacked.weights)
        plain.get_layer(stacked.name).set_weights([kernel[member], bias[member, 0]])
    return plain
