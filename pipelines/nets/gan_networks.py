"""The DCGAN generator and discriminator for 28x28 images (Radford et al. 2015).

`make_generator` maps standard-normal noise (plus integer labels when conditional, or
the cluster its noise draws) to images in [-1, 1]; `make_discriminator` maps images
(plus labels) to one real-vs-fake logit, optionally through a `MinibatchStdDev` channel
against mode collapse. Both are functional models with the paper's N(0, 0.02)
initializers; `pipelines.nets.gan_model.DCGAN` trains them.

Example:
    >>> make_generator(filters=(16, 8)).output_shape, make_discriminator(filters=(8, 16)).output_shape
    ((None, 28, 28, 1), (None, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from pipelines.nets.cluster_code import ClusterCode

__all__ = ["LATENT_DIM", "make_generator", "make_discriminator", "MinibatchStdDev"]


LATENT_DIM = 100
# Radford et al.: "All weights were initialized from a zero-centered Normal distribution
# with standard deviation 0.02."
_INIT_STD = 0.02


def _init(seed: int | None) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(0.0, _INIT_STD, seed=seed)


def make_generator(
    *,
    latent_dim: int = LATENT_DIM,
    num_classes: int | None = None,
    filters: Sequence[int] = (128, 64),
    kernel_size: int = 4,
    bn_momentum: float = 0.9,
    seed: int | None = None,
    cluster_frequencies: Sequence[float] | np.ndarray | None = None,
    name: str = "generator",
) -> keras.Model:
    """Builds the DCGAN generator: noise -> dense -> 7x7 maps -> strided `Conv2DTranspose` -> 28x28x1 tanh.

    `filters[0]` is the width of the 7x7 map made by the dense layer; each further entry
    is a stride-2 `Conv2DTranspose` with BatchNorm and ReLU, and a last stride-2
    `Conv2DTranspose` to one channel with tanh and no BatchNorm, as the paper prescribes.
    Two entries give 7 -> 14 -> 28. When conditional, the label's one-hot code is
    concatenated to the noise (Mirza and Osindero 2014). With `cluster_frequencies` the
    generator takes noise only and conditions itself on the cluster its noise draws
    (`ClusterCode`), one-hot as for a label.

    Args:
        latent_dim: Noise dimension. Defaults to `100`.
        num_classes: Number of classes of a conditional generator; `None` for an
            unconditional one. Defaults to `None`.
        filters: Width of the 7x7 map, then of each intermediate upsampling stage; the
            stages must bring 7x7 to 28x28, so exactly 2 entries. Defaults to `(128, 64)`.
        kernel_size: Kernel of the transposed convolutions (4 divides by the stride 2,
            which avoids checkerboard artifacts). Defaults to `4`.
        bn_momentum: Momentum of the BatchNorm moving statistics that sampling uses. 0.9
            (PyTorch's 0.1, as in the reference DCGAN code) follows the generator's
            changing weights; Keras's 0.99 lags by hundreds of steps. Measured after the
            same 100 MNIST steps (quick classifier): samples on a grey background and
            fid_domain 27.8 with 0.99, black background and 12.0 with 0.9. Defaults to `0.9`.
        seed: Seed of the N(0, 0.02) initializers. Defaults to `None`.
        cluster_frequencies: Shares of the unsupervised clusters to draw from the noise
            (`ClusterCode`, the layer named `cluster_code`); `None` for none. Defaults to `None`.
        name: Model name. Defaults to `"generator"`.

    Returns:
        A functional model with input `noise` (n, latent_dim), plus `label` (n,) int32
        when conditional, and output (n, 28, 28, 1) float32 in [-1, 1].

    Raises:
        ValueError: A non-positive width or dimension, not exactly 2 filter entries, or
            both `num_classes` and `cluster_frequencies`.

    Example:
        >>> g = make_generator(num_classes=10, filters=(16, 8))
        >>> [tuple(t.shape) for t in g.inputs]
        [(None, 100), (None,)]
    """
    filters = tuple(int(f) for f in filters)
    _check_positive(
        latent_dim=latent_dim, kernel_size=kernel_size, **{f"filters[{i}]": f for i, f in enumerate(filters)}
    )
    if len(filters) != 2:
        raise ValueError(f"expected 2 generator filters (7x7 map, 14x14 stage). Received: filters={filters}")
    if num_classes is not None and cluster_frequencies is not None:
        raise ValueError("expected num_classes (a conditional generator) or cluster_frequencies, not both")
    noise = keras.Input(shape=(latent_dim,), name="noise")
    inputs, x = [noise], noise
    if cluster_frequencies is not None:
        code = ClusterCode(cluster_frequencies, name="cluster_code")(noise)
        x = layers.Concatenate(name="noise_and_cluster")(
            [
                noise,
                layers.CategoryEncoding(len(cluster_frequencies), output_mode="one_hot", name="cluster_one_hot")(code),
            ]
        )
    if num_classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        x = layers.Concatenate(name="noise_and_label")(
            [noise, layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_one_hot")(label)]
        )
    # No bias before BatchNorm: its offset plays that role.
    x = layers.Dense(7 * 7 * filters[0], use_bias=False, kernel_initializer=_init(seed), name="project")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((7, 7, filters[0]), name="to_7x7")(x)
    for i, width in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(
            width,
            kernel_size,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_init(None if seed is None else seed + 1 + i),
            name=f"up{i}",
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"up{i}_bn")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = layers.Conv2DTranspose(
        1,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=_init(None if seed is None else seed + 10),
        name="to_image",
    )(x)
    # float32 even under a mixed precision policy: images are compared and saved as float32.
    image = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs if len(inputs) > 1 else noise, image, name=name)


@keras.saving.register_keras_serializable(package="pipelines", name="MinibatchStdDev")
class MinibatchStdDev(layers.Layer):
    """Appends one channel: the batch's feature standard deviation, averaged (Karras et al. 2018).

    A generator that draws a few modes only gives batches of low spread, which this
    channel lets the discriminator see and punish. The value depends on the whole batch,
    so feed real and generated images in separate batches (as `DCGAN.train_step` does).

    Example:
        >>> x = np.stack([np.zeros((2, 2, 3)), np.ones((2, 2, 3))]).astype("float32")
        >>> y = MinibatchStdDev()(x)
        >>> tuple(y.shape), round(float(y[0, 0, 0, 3]), 3)  # std of {0, 1} is 0.5
        ((2, 2, 2, 4), 0.5)
    """

    def call(self, inputs: Any) -> Any:
        x = ops.cast(inputs, "float32")
        spread = ops.mean(ops.sqrt(ops.var(x, axis=0) + 1e-8))
        channel = ops.ones_like(inputs[..., :1]) * ops.cast(spread, inputs.dtype)
        return ops.concatenate([inputs, channel], axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] + 1)


def make_discriminator(
    *,
    num_classes: int | None = None,
    filters: Sequence[int] = (64, 128),
    kernel_size: int = 4,
    dropout: float = 0.0,
    minibatch_std: bool = False,
    bn_momentum: float = 0.9,
    seed: int | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """Builds the DCGAN discriminator: strided convolutions, LeakyReLU(0.2), BatchNorm except at the input, a logit.

    There is no pooling: each stage is a stride-2 convolution. When conditional, the
    logit gets a projection term `<embed(label), features>` (Miyato and Koyama 2018),
    which conditions the decision on the class without concatenating label maps.

    Args:
        num_classes: Number of classes of a conditional discriminator; `None` for an
            unconditional one. Defaults to `None`.
        filters: Width of each stride-2 stage (28 -> 14 -> 7 for two). Defaults to `(64, 128)`.
        kernel_size: Convolution kernel. Defaults to `4`.
        dropout: Dropout after each stage; 0 disables. Defaults to `0.0`.
        minibatch_std: Append a `MinibatchStdDev` channel before the logit, against
            mode collapse. Defaults to `False`.
        bn_momentum: Momentum of the BatchNorm moving statistics (used when scoring
            held-out images). Defaults to `0.9`.
        seed: Seed of the N(0, 0.02) initializers. Defaults to `None`.
        name: Model name. Defaults to `"discriminator"`.

    Returns:
        A functional model with input `image` (n, 28, 28, 1) in [-1, 1], plus `label`
        (n,) when conditional, and output (n, 1) float32 logits.

    Raises:
        ValueError: No stage, a non-positive width, or a dropout outside [0, 1).
    """
    filters = tuple(int(f) for f in filters)
    if not filters:
        raise ValueError("expected at least one discriminator stage. Received: filters=()")
    _check_positive(kernel_size=kernel_size, **{f"filters[{i}]": f for i, f in enumerate(filters)})
    if not 0 <= dropout < 1:
        raise ValueError(f"expected dropout in [0, 1). Received: dropout={dropout}")
    image = keras.Input(shape=(28, 28, 1), name="image")
    inputs, x = [image], image
    for i, width in enumerate(filters):
        x = layers.Conv2D(
            width,
            kernel_size,
            strides=2,
            padding="same",
            use_bias=i == 0,
            kernel_initializer=_init(None if seed is None else seed + 20 + i),
            name=f"down{i}",
        )(x)
        if i > 0:  # Radford et al.: no BatchNorm on the discriminator's input layer.
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"down{i}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"down{i}_dropout")(x)
    if minibatch_std:
        x = MinibatchStdDev(name="minibatch_std")(x)
    features = layers.Flatten(name="features")(x)
    logit = layers.Dense(
        1, kernel_initializer=_init(None if seed is None else seed + 30), dtype="float32", name="logit"
    )(features)
    if num_classes is not None:
        label = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(label)
        embedded = layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=_init(None if seed is None else seed + 31),
            name="label_embedding",
        )(label)
        projection = layers.Dot(axes=1, dtype="float32", name="projection")([embedded, features])
        logit = layers.Add(dtype="float32", name="conditional_logit")([logit, projection])
    return keras.Model(inputs if len(inputs) > 1 else image, logit, name=name)


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise ValueError(f"expected a positive integer. Received: {key}={value}")
