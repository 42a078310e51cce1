"""The ViT model builder: `make_vit`, and `check_vit_args`, which checks its arguments without building.

`make_vit` chains the layers of `pipelines.nets.vit_embeddings` and
`pipelines.nets.vit_block` into a functional classifier of 28x28 (or other) images.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from pipelines.errors import ConfigError
from pipelines.nets.vit_block import TransformerBlock
from pipelines.nets.vit_checks import _check_positive, _check_rate
from pipelines.nets.vit_embeddings import ClassToken, PatchEmbedding, PositionEmbedding, stem_output_size

__all__ = ["check_vit_args", "make_vit"]


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
