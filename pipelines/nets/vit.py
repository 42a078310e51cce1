"""A small Vision Transformer (ViT) for 28x28 images, and a view of its attention maps.

`make_vit` builds patch embedding -> class token -> learned position embeddings ->
`depth` pre-norm transformer blocks -> the class token -> LayerNorm -> Dense logits.
Every layer is a registered Keras class, so the model saves as `.keras` and reloads with
`safe_mode=True` without custom objects. `make_attention_model` re-runs the same layer
objects (so the same weights) and returns each block's attention probabilities, the
input of `pipelines.evaluation.attention.attention_rollout`.

Example:
    >>> model = make_vit(dim=16, depth=2, heads=2, mlp_dim=32)
    >>> model.output_shape
    (None, 10)
    >>> [tuple(s) for s in make_attention_model(model).output_shape]
    [(None, 2, 50, 50), (None, 2, 50, 50)]
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from pipelines.errors import ConfigError

__all__ = [
    "check_vit_args",
    "PatchEmbedding",
    "ClassToken",
    "PositionEmbedding",
    "StochasticDepth",
    "TransformerBlock",
    "make_vit",
    "make_attention_model",
]

# ViT's initialization of the class token and the position embeddings (timm, big_vision).
_EMBEDDING_STDDEV = 0.02


@keras.saving.register_keras_serializable(package="pipelines")
class PatchEmbedding(layers.Layer):
    """Cuts images into non-overlapping square patches and projects each to `dim` values.

    The projection is a Conv2D whose kernel and stride are the patch size: the same
    linear map of each flattened patch as `extract_patches` + Dense, in one op.
    Patches are numbered row by row, so token `i` is the patch at
    `divmod(i, width // patch_size)`.

    Args:
        patch_size: Side of a square patch, in pixels.
        dim: Output values per patch.
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> import numpy as np
        >>> tuple(PatchEmbedding(4, 8)(np.zeros((2, 28, 28, 1), "float32")).shape)
        (2, 49, 8)
    """

    def __init__(self, patch_size: int, dim: int, stem_channels: Sequence[int] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        _check_positive(patch_size=patch_size, dim=dim)
        _check_positive(**{f"stem_channels[{i}]": c for i, c in enumerate(stem_channels)})
        self.patch_size = patch_size
        self.dim = dim
        self.stem_channels = tuple(stem_channels)
        self.stem = []
        for i, channels in enumerate(self.stem_channels):
            self.stem += [
                layers.Conv2D(channels, 3, strides=2, padding="same", use_bias=False, name=f"stem_conv_{i}"),
                layers.BatchNormalization(name=f"stem_norm_{i}"),
                layers.ReLU(name=f"stem_relu_{i}"),
            ]
        self.projection = layers.Conv2D(dim, patch_size, strides=patch_size, padding="valid", name="projection")

    def build(self, input_shape: tuple) -> None:
        height, width = stem_output_size(input_shape[1:3], len(self.stem_channels))
        if height is None or width is None or height % self.patch_size or width % self.patch_size:
            where = f" after the stem (here {height}x{width})" if self.stem_channels else ""
            raise ValueError(
                f"expected a static image height and width{where} divisible by patch_size={self.patch_size}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = tuple(input_shape)
        for layer in self.stem:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.projection.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.stem:
            x = layer(x, training=training)
        x = self.projection(x)
        return ops.reshape(x, (ops.shape(x)[0], -1, self.dim))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        height, width = stem_output_size(input_shape[1:3], len(self.stem_channels))
        return (input_shape[0], (height // self.patch_size) * (width // self.patch_size), self.dim)

    def get_config(self) -> dict:
        base_config = super().get_config()
        config = {"patch_size": self.patch_size, "dim": self.dim, "stem_channels": list(self.stem_channels)}
        return {**base_config, **config}


def stem_output_size(size: Sequence[int | None], n_stem: int) -> tuple:
    """Height and width after `n_stem` stride-2 'same' convolutions (each halves, rounding up)."""
    out = []
    for side in size:
        for _ in range(n_stem):
            side = None if side is None else -(-side // 2)
        out.append(side)
    return tuple(out)


@keras.saving.register_keras_serializable(package="pipelines")
class ClassToken(layers.Layer):
    """Prepends one learnable token to a sequence: `(n, t, d) -> (n, t + 1, d)`.

    The token is the same for every image; after the transformer blocks its position
    holds what the classification head reads.

    Args:
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> import numpy as np
        >>> tuple(ClassToken()(np.zeros((2, 49, 8), "float32")).shape)
        (2, 50, 8)
    """

    def build(self, input_shape: tuple) -> None:
        self.token = self.add_weight(
            name="token",
            shape=(1, 1, input_shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=_EMBEDDING_STDDEV),
        )

    def call(self, inputs):
        token = ops.cast(self.token, inputs.dtype)  # the variable stays float32 under mixed precision
        token = ops.broadcast_to(token, (ops.shape(inputs)[0], 1, ops.shape(inputs)[-1]))
        return ops.concatenate([token, inputs], axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        tokens = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], tokens, input_shape[2])


@keras.saving.register_keras_serializable(package="pipelines")
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding per position: `(n, t, d) -> (n, t, d)`.

    The table has shape `(1, t, d)`, fixed by the sequence length the layer is built on.

    Args:
        **kwargs: Base `Layer` arguments (`name`, `dtype`).

    Example:
        >>> import numpy as np
        >>> layer = PositionEmbedding()
        >>> tuple(layer(np.zeros((2, 50, 8), "float32")).shape), tuple(layer.embedding.shape)
        ((2, 50, 8), (1, 50, 8))
    """

    def build(self, input_shape: tuple) -> None:
        if input_shape[1] is None:
            raise ValueError(f"expected a static sequence length. Received: input_shape={tuple(input_shape)}")
        self.embedding = self.add_weight(
            name="embedding",
            shape=(1, input_shape[1], input_shape[2]),
            initializer=keras.initializers.TruncatedNormal(stddev=_EMBEDDING_STDDEV),
        )

    def call(self, inputs):
        return inputs + ops.cast(self.embedding, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)


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


def make_vit(
    input_shape: Sequence[int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    patch_size: int = 4,
    stem_channels: Sequence[int] = (),
    dim: int = 64,
    depth: int = 6,
    heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    drop_path: float = 0.1,
    head_dropout: float = 0.0,
    name: str = "vit",
) -> keras.Model:
    """Builds the ViT. The output is logits (float32 even under a mixed precision policy).

    Layers, by name: `patch_embedding`, `class_token`, `position_embedding`,
    `embedding_dropout` (when `dropout > 0`), `block_0` ... `block_{depth-1}`, then the
    class token (position 0) is taken, `final_norm`, `head_dropout` (when
    `head_dropout > 0`) and `logits`. The token is taken before the final LayerNorm,
    which is per token, so this equals norming every token and reading token 0 at
    1/tokens of the cost. Stochastic depth grows linearly over the blocks, from 0 in
    the first to `drop_path` in the last (as in DeiT), because early blocks carry
    features every later block needs.

    Args:
        input_shape: (height, width, channels); height and width divisible by
            `patch_size`. Defaults to `(28, 28, 1)`.
        num_classes: Number of output logits. Defaults to `10`.
        patch_size: Side of a square patch. Defaults to `4` (49 patches on 28x28).
            With a stem, patches are cut from the stem's output feature map.
        stem_channels: Channels of optional stride-2 3x3 Conv-BN-ReLU layers before the
            patch projection: the convolutional stem of Xiao et al. 2021 ("Early
            convolutions help transformers see better"), which makes small ViTs train
            faster and more stably. `()` (the default) is the plain ViT.
        dim: Token width; divisible by `heads`. Defaults to `64`.
        depth: Number of transformer blocks. Defaults to `6`.
        heads: Attention heads per block. Defaults to `4`.
        mlp_dim: Hidden width of each block's MLP. Defaults to `128`.
        dropout: Dropout after the embeddings, the attention and in the MLPs.
            Defaults to `0.0`.
        attention_dropout: Dropout on the attention probabilities. Defaults to `0.0`.
        drop_path: Stochastic depth rate of the last block. Defaults to `0.1`.
        head_dropout: Dropout before the output layer. Defaults to `0.0`.
        name: Model name. Defaults to `vit`.

    Returns:
        An uncompiled functional `keras.Model` mapping `(n, *input_shape)` to `(n, num_classes)`.

    Raises:
        ConfigError: A size is not a positive integer, a rate is outside `[0, 1)`, the
            image does not divide into patches, or `dim` does not divide into heads.

    Example:
        >>> model = make_vit(patch_size=7, dim=32, depth=1, heads=2, mlp_dim=64)
        >>> model.output_shape, tuple(model.get_layer("position_embedding").embedding.shape)
        ((None, 10), (1, 17, 32))
    """
    input_shape = tuple(input_shape)
    check_vit_args(
        input_shape,
        num_classes,
        patch_size=patch_size,
        stem_channels=stem_channels,
        dim=dim,
        depth=depth,
        heads=heads,
        mlp_dim=mlp_dim,
        dropout=dropout,
        attention_dropout=attention_dropout,
        drop_path=drop_path,
        head_dropout=head_dropout,
    )

    inputs = keras.Input(shape=input_shape, name="image")
    x = PatchEmbedding(patch_size, dim, stem_channels=stem_channels, name="patch_embedding")(inputs)
    x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(depth):
        rate = drop_path * i / (depth - 1) if depth > 1 else drop_path
        x = TransformerBlock(
            heads, mlp_dim, dropout=dropout, attention_dropout=attention_dropout, drop_path=rate, name=f"block_{i}"
        )(x)
    x = x[:, 0]
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def check_vit_args(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    patch_size: int,
    dim: int,
    depth: int,
    heads: int,
    mlp_dim: int,
    stem_channels: Sequence[int] = (),
    dropout: float = 0.0,
    attention_dropout: float = 0.0,
    drop_path: float = 0.0,
    head_dropout: float = 0.0,
) -> None:
    """Checks `make_vit`'s arguments without building anything (configs call it to fail early).

    Raises:
        ConfigError: As `make_vit` describes.

    Example:
        >>> check_vit_args((28, 28, 1), 10, patch_size=7, dim=64, depth=2, heads=4, mlp_dim=128)
    """
    input_shape = tuple(input_shape)
    try:
        _check_positive(
            num_classes=num_classes,
            patch_size=patch_size,
            dim=dim,
            depth=depth,
            heads=heads,
            mlp_dim=mlp_dim,
            **{f"stem_channels[{i}]": c for i, c in enumerate(stem_channels)},
        )
        _check_rate(
            dropout=dropout, attention_dropout=attention_dropout, drop_path=drop_path, head_dropout=head_dropout
        )
    except ValueError as e:
        raise ConfigError(str(e)) from e
    if num_classes < 2:
        raise ConfigError(f"expected num_classes >= 2. Received: num_classes={num_classes}")
    if len(input_shape) != 3 or not all(isinstance(s, int) and s > 0 for s in input_shape):
        raise ConfigError(
            f"expected input_shape=(height, width, channels) of positive integers. Received: input_shape={input_shape}"
        )
    height, width = stem_output_size(input_shape[:2], len(tuple(stem_channels)))
    if height % patch_size or width % patch_size:
        divisors = [p for p in range(1, min(height, width) + 1) if height % p == 0 and width % p == 0]
        where = f"the stem's {height}x{width} output" if stem_channels else "the image height and width"
        raise ConfigError(
            f"expected a patch_size that divides {where}. Received: patch_size={patch_size} "
            f"for input_shape={input_shape}, stem_channels={tuple(stem_channels)}. Pass one of {divisors}."
        )
    if dim % heads:
        raise ConfigError(
            f"expected dim divisible by heads. Received: dim={dim}, heads={heads}. "
            f"Pass heads in {[h for h in range(1, dim + 1) if dim % h == 0]}."
        )


def make_attention_model(vit_model: keras.Model) -> keras.Model:
    """A model sharing `vit_model`'s layers that returns each block's attention probabilities.

    The layers of `vit_model` up to its last `TransformerBlock` are called again on a
    new input, and each block's attention sublayer with `return_attention_scores=True`;
    being the same layer objects, they use (and will follow later updates of) the same
    weights. The scores equal `TransformerBlock(..., return_attention_scores=True)`'s.

    Args:
        vit_model: A model built by `make_vit` (or reloaded from one): a chain of layers
            containing `TransformerBlock`s.

    Returns:
        A functional model mapping images `(n, h, w, c)` to a list with one array
        `(n, heads, tokens, tokens)` per block, in block order; token 0 is the class token.
        With a single block Keras returns that array itself, not a one-item list;
        `attention_rollout` accepts both.

    Raises:
        ConfigError: `vit_model` has no `TransformerBlock`.

    Example:
        >>> vit = make_vit(patch_size=7, dim=16, depth=3, heads=2, mlp_dim=32)
        >>> [tuple(s) for s in make_attention_model(vit).output_shape]
        [(None, 2, 17, 17), (None, 2, 17, 17), (None, 2, 17, 17)]
    """
    chain = [layer for layer in vit_model.layers if not isinstance(layer, layers.InputLayer)]
    block_indices = [i for i, layer in enumerate(chain) if isinstance(layer, TransformerBlock)]
    if not block_indices:
        raise ConfigError(
            f"expected a model with TransformerBlock layers, as make_vit builds. Received: model "
            f"{vit_model.name!r} with layers {[layer.name for layer in chain][:8]}."
        )
    inputs = keras.Input(shape=vit_model.input_shape[1:], dtype=vit_model.inputs[0].dtype, name="image")
    x, scores = inputs, []
    for layer in chain[: block_indices[-1] + 1]:
        if isinstance(layer, TransformerBlock):
            # The block's own `return_attention_scores=True` path cannot be used here:
            # Keras 3.15's functional graph check counts a layer's outputs from its first
            # call (one tensor, in `vit_model`). The block's norm and attention sublayers
            # have no other functional call, so they are called directly, recomputing
            # the attention, which costs nothing that matters for a few images.
            h = layer.attention_norm(x)
            _, block_scores = layer.attention(h, h, return_attention_scores=True)
            scores.append(block_scores)
        x = layer(x)
    return keras.Model(inputs, scores, name=f"{vit_model.name}_attention")


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected a positive integer. Received: {key}={value!r}")


def _check_rate(**values: float) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"expected a rate in [0, 1). Received: {key}={value!r}")
