"""The ViT's encoder block: `TransformerBlock` (pre-norm attention and MLP) and its `StochasticDepth`.

Both are registered Keras classes, so a model using them saves as `.keras` and reloads
with `safe_mode=True`.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from pipelines.nets.vit_checks import _check_positive, _check_rate

__all__ = ["StochasticDepth", "TransformerBlock"]


@keras.saving.register_keras_serializable(package="pipelines")
class StochasticDepth(layers.Layer):
    """Drop path: in training, zeroes a whole sample's input with probability `rate`.

    Kept samples are scaled by `1 / (1 - rate)`, so the expected output equals the
    input; at inference the layer is the identity. Put on a residual branch, it skips
    the whole block for that sample (Huang et al. 2016).

    Args:
        rate: Probability of dropping a sample, in `[0, 1)`. Defaults to `0.0`.
        seed: Seed of the layer's random generator. Defaults to `None`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> import numpy as np
        >>> x = np.ones((4, 3), "float32")
        >>> bool(np.array_equal(StochasticDepth(0.5)(x, training=False), x))
        True
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        _check_rate(rate=rate)
        self.rate = float(rate)
        self.seed = seed
        if self.rate > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        # floor(keep + U[0, 1)) is 1 with probability `keep`: a Bernoulli mask per sample.
        mask = ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype))
        return inputs * mask / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {"rate": self.rate, "seed": self.seed}
        return {**base_config, **config}


@keras.saving.register_keras_serializable(package="pipelines")
class TransformerBlock(layers.Layer):
    """A pre-norm transformer encoder block: `(n, t, d) -> (n, t, d)`.

    `x + DropPath(Dropout(MHA(LN(x))))`, then `x + DropPath(Dropout(MLP(LN(x))))` with
    `MLP = Dense(mlp_dim, gelu) -> Dropout -> Dense(d)`. The width `d` comes from the
    input and must be divisible by `num_heads`. Called with
    `return_attention_scores=True` it also returns the attention probabilities
    `(n, num_heads, t, t)` (rows: queries, summing to 1); that path computes them
    explicitly, while the default path lets Keras use its fused attention op.

    Args:
        num_heads: Attention heads; each has `d // num_heads` dimensions.
        mlp_dim: Hidden width of the MLP.
        dropout: Dropout rate after the attention and in the MLP. Defaults to `0.0`.
        attention_dropout: Dropout rate on the attention probabilities. Defaults to `0.0`.
        drop_path: Stochastic depth rate of both residual branches. Defaults to `0.0`.
        epsilon: LayerNorm epsilon. Defaults to `1e-6`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> import numpy as np
        >>> block = TransformerBlock(num_heads=2, mlp_dim=16)
        >>> out, scores = block(np.zeros((3, 5, 8), "float32"), return_attention_scores=True)
        >>> tuple(out.shape), tuple(scores.shape)
        ((3, 5, 8), (3, 2, 5, 5))
    """

    def __init__(
        self,
        num_heads: int,
        mlp_dim: int,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
        epsilon: float = 1e-6,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive(num_heads=num_heads, mlp_dim=mlp_dim)
        _check_rate(dropout=dropout, attention_dropout=attention_dropout, drop_path=drop_path)
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.drop_path = float(drop_path)
        self.epsilon = float(epsilon)
        # Sublayer names carry the block's, because make_attention_model calls the norm
        # and the attention in a functional graph, where names must be unique.
        self.attention_norm = layers.LayerNormalization(epsilon=epsilon, name=f"{self.name}_attention_norm")
        self.attention_dropout_layer = layers.Dropout(dropout, name=f"{self.name}_attention_output_dropout")
        self.mlp_norm = layers.LayerNormalization(epsilon=epsilon, name=f"{self.name}_mlp_norm")
        self.mlp_hidden = layers.Dense(mlp_dim, activation="gelu", name=f"{self.name}_mlp_hidden")
        self.mlp_hidden_dropout = layers.Dropout(dropout, name=f"{self.name}_mlp_hidden_dropout")
        self.mlp_dropout = layers.Dropout(dropout, name=f"{self.name}_mlp_output_dropout")
        self.drop_path_layer = StochasticDepth(drop_path, name=f"{self.name}_drop_path")

    def build(self, input_shape: tuple) -> None:
        dim = input_shape[-1]
        if dim is None or dim % self.num_heads:
            raise ValueError(
                f"expected a token width divisible by num_heads={self.num_heads}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        # Built here because the key width and the MLP output width depend on the input.
        self.attention = layers.MultiHeadAttention(
            self.num_heads, dim // self.num_heads, dropout=self.attention_dropout, name=f"{self.name}_attention"
        )
        self.mlp_output = layers.Dense(dim, name=f"{self.name}_mlp_output")
        self.attention_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.mlp_norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output.build((*input_shape[:-1], self.mlp_dim))

    def call(self, inputs, training=None, return_attention_scores: bool = False):
        h = self.attention_norm(inputs)
        if return_attention_scores:
            h, scores = self.attention(h, h, return_attention_scores=True, training=training)
        else:
            h = self.attention(h, h, training=training)
        h = self.attention_dropout_layer(h, training=training)
        x = inputs + self.drop_path_layer(h, training=training)
        h = self.mlp_hidden(self.mlp_norm(x))
        h = self.mlp_hidden_dropout(h, training=training)
        h = self.mlp_dropout(self.mlp_output(h), training=training)
        x = x + self.drop_path_layer(h, training=training)
        return (x, scores) if return_attention_scores else x

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {
            "num_heads": self.num_heads,
            "mlp_dim": self.mlp_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "drop_path": self.drop_path,
            "epsilon": self.epsilon,
        }
        return {**base_config, **config}
