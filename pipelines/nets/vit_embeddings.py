"""The ViT's image-to-token layers: patch embedding (with an optional convolutional stem), class token, positions.

`PatchEmbedding` turns `(n, h, w, c)` images into `(n, tokens, dim)` patch tokens,
`ClassToken` prepends the learnable token the classification head reads, and
`PositionEmbedding` adds a learned embedding per position. Each is a registered Keras
class, so a model using them saves as `.keras` and reloads with `safe_mode=True`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from pipelines.nets.vit_checks import _check_positive

__all__ = ["PatchEmbedding", "ClassToken", "PositionEmbedding", "stem_output_size"]


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
