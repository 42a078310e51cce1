"""A small convolutional classifier for 28x28 images, shaped for cheap CPU epochs.

Example:
    >>> model = make_cnn((28, 28, 1), 10, stem_filters=8, filters=(16,))
    >>> model.output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

__all__ = ["make_cnn"]


def cnn_feature_size(
    image_size: int, convs: Sequence[int], *, stem_kernel_size: int = 5, padding: str = "valid"
) -> int:
    """The side of the CNN's last feature map for square `image_size` images (0 or less: too many stages).

    Example:
        >>> cnn_feature_size(28, (2,)), cnn_feature_size(28, (2, 2))
        (4, 0)
    """
    shrink = padding == "valid"
    size = (image_size - (stem_kernel_size - 1) * shrink) // 2
    for n_convs in convs:
        size = (size - 2 * n_convs * shrink) // 2
        if size <= 0:
            return 0
    return size


def make_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    stem_filters: int = 32,
    stem_kernel_size: int = 5,
    filters: Sequence[int] = (64,),
    convs: Sequence[int] | None = None,
    padding: str = "valid",
    dense_units: int = 0,
    dropout: float = 0.0,
    head_dropout: float = 0.3,
    bn_momentum: float = 0.9,
    name: str = "cnn",
) -> keras.Model:
    """Builds the CNN. The output is logits (float32 even under a mixed precision policy).

    The stem is one Conv2D(stem_filters, stem_kernel_size) with bias and ReLU, then 2x2 max
    pooling. It has no batch norm: on a full-resolution map batch norm costs more CPU time
    than the convolution itself (measured: about a third of an epoch). Stage i is
    `convs[i]` x (Conv2D 3x3 without bias -> BatchNorm -> ReLU), then 2x2 max pooling and
    optional spatial dropout. With `valid` padding on 28x28 the defaults give
    24 -> 12 -> 10 -> 8 -> 4 pixels, so the 64-filter layers run on small maps.
    The head flattens, optionally adds Dense(dense_units) -> BN -> ReLU, applies dropout,
    and ends in Dense(num_classes).

    Args:
        input_shape: (height, width, channels).
        num_classes: Number of output logits.
        stem_filters: Filters of the stem convolution. Defaults to `32`.
        stem_kernel_size: Kernel size of the stem convolution. Defaults to `5`.
        filters: Filters of each stage. Defaults to `(64,)`.
        convs: Convolutions in each stage. Defaults to 2 per stage.
        padding: `valid` (maps shrink: cheaper) or `same`. Defaults to `valid`.
        dense_units: Width of a hidden dense layer; 0 for none. Defaults to `0`.
        dropout: SpatialDropout2D rate after each stage. Defaults to `0.0`.
        head_dropout: Dropout rate before the output layer. Defaults to `0.3`.
        bn_momentum: Momentum of the batch-norm moving statistics. Keras's 0.99 needs
            hundreds of steps before evaluation is reliable; 0.9 is ready after tens,
            which short and small-data runs need. Defaults to `0.9`.
        name: Model name. Defaults to `cnn`.

    Returns:
        An uncompiled functional `keras.Model`.
    """
    convs = tuple(convs) if convs is not None else (2,) * len(filters)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2. Received: num_classes={num_classes}")
    if len(filters) != len(convs) or (convs and min(convs) < 1) or min((*filters, stem_filters)) < 1:
        raise ValueError(
            f"filters and convs need one positive entry per stage. Received: filters={tuple(filters)}, convs={convs}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(stem_filters, stem_kernel_size, padding=padding, activation="relu", name="stem")(inputs)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for stage, (width, n_convs) in enumerate(zip(filters, convs)):
        for i in range(n_convs):
            # No bias: the following batch norm's offset plays that role.
            x = layers.Conv2D(width, 3, padding=padding, use_bias=False, name=f"conv{stage}_{i}")(x)
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{stage}_{i}")(x)
            x = layers.ReLU(name=f"relu{stage}_{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        if dropout > 0:
            x = layers.SpatialDropout2D(dropout, name=f"drop{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    if dense_units > 0:
        x = layers.Dense(dense_units, use_bias=False, name="dense")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name="dense_bn")(x)
        x = layers.ReLU(name="dense_relu")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name)
