"""Recurrent text classifier over learned word embeddings.

`Embedding(mask_zero=True)` -> stacked bidirectional LSTM/GRU -> masked pooling over time
-> optional dense -> one logit. Token id 0 is padding: the mask keeps it out of the
recurrence and out of the pooling.

Example:
    >>> model = make_text_rnn(vocab_size=1000, embed_dim=16, units=(8,))
    >>> model.output_shape
    (None, 1)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from pipelines.errors import ConfigError

__all__ = ["MaskedGlobalMaxPooling1D", "make_text_rnn", "RNN_CELLS", "POOLINGS"]

RNN_CELLS = ("lstm", "gru")
POOLINGS = ("max", "mean", "max_mean", "last")


@keras.saving.register_keras_serializable(package="pipelines")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over time of the unmasked steps (Keras' GlobalMaxPooling1D ignores masks).

    Padded steps would otherwise enter the max as zeros, which biases every feature
    whose real values are all negative.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[-1.0], [-2.0], [0.0]]], "float32")
        >>> mask = np.array([[True, True, False]])
        >>> float(MaskedGlobalMaxPooling1D()(x, mask=mask)[0, 0])
        -1.0
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.cast(-1e4 if inputs.dtype == "float16" else -1e9, inputs.dtype)
        return ops.max(ops.where(mask, inputs, lowest), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def make_text_rnn(
    vocab_size: int,
    *,
    embed_dim: int = 128,
    rnn: str = "lstm",
    units: Sequence[int] = (64,),
    bidirectional: bool = True,
    pooling: str = "max",
    embedding_dropout: float = 0.0,
    dropout: float = 0.0,
    dense_units: int = 0,
    head_dropout: float = 0.0,
    name: str = "text_rnn",
) -> keras.Model:
    """Builds the recurrent classifier over integer token ids (0 = padding).

    Args:
        vocab_size: Number of token ids, padding and OOV included.
        embed_dim: Width of the learned word embeddings.
        rnn: `"lstm"` or `"gru"`.
        units: Units of each stacked recurrent layer (per direction).
        bidirectional: Run each recurrent layer both ways and concatenate.
        pooling: How the last layer's sequence becomes one vector: `"max"`, `"mean"`,
            `"max_mean"` (both, concatenated) or `"last"` (the final state).
        embedding_dropout: Dropout of whole embedding channels (SpatialDropout1D).
        dropout: Dropout between recurrent layers and after pooling.
        dense_units: Width of a hidden ReLU layer before the logit (0: none).
        head_dropout: Dropout before the logit.
        name: Model name.

    Returns:
        A model mapping `(batch, time)` int ids to `(batch, 1)` float32 logits.

    Raises:
        ConfigError: An unknown `rnn` or `pooling`, or empty/non-positive `units`.
    """
    if rnn not in RNN_CELLS:
        raise ConfigError(f"rnn must be one of {RNN_CELLS}. Received: rnn={rnn!r}")
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")
    units = tuple(units)
    if not units or min(units) < 1:
        raise ConfigError(f"units needs at least one positive width. Received: units={units}")
    if vocab_size < 2:
        raise ConfigError(f"vocab_size must be at least 2 (padding plus one token). Received: {vocab_size}")

    cell = layers.LSTM if rnn == "lstm" else layers.GRU
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="embedding")(inputs)
    if embedding_dropout > 0:
        x = layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    for i, width in enumerate(units):
        last = i == len(units) - 1
        layer = cell(width, return_sequences=not (last and pooling == "last"), name=f"{rnn}_{i}")
        if bidirectional:
            layer = layers.Bidirectional(layer, name=f"bi{rnn}_{i}")
        x = layer(x)
        if dropout > 0 and not last:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if pooling == "max":
        x = MaskedGlobalMaxPooling1D(name="max_pool")(x)
    elif pooling == "mean":
        x = layers.GlobalAveragePooling1D(name="mean_pool")(x)
    elif pooling == "max_mean":
        x = layers.Concatenate(name="max_mean_pool")(
            [MaskedGlobalMaxPooling1D(name="max_pool")(x), layers.GlobalAveragePooling1D(name="mean_pool")(x)]
        )
    if dense_units > 0:
        if dropout > 0:
            x = layers.Dropout(dropout, name="pool_dropout")(x)
        x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    # float32 logits, so that mixed-precision policies keep the loss in float32.
    logits = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, logits, name=name)
