"""A convolutional denoising autoencoder: strided-conv encoder, `Conv2DTranspose` decoder.

The model is two sub-models in a row, `encoder` (image -> latent map) and `decoder`
(latent map -> image), reachable with `model.get_layer("encoder")`. There are no skip
connections from encoder to decoder: everything the decoder sees passes through the
latent map, so the reconstruction error of an image measures how well it fits what the
model learned, which the pipeline uses as an anomaly score.

Example:
    >>> model = make_denoising_autoencoder(filters=(8, 16), latent_filters=4, stem_filters=8)
    >>> model.output_shape, model.get_layer("encoder").output_shape
    ((None, 28, 28, 1), (None, 7, 7, 4))
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers, ops

from pipelines.errors import DataValidationError

__all__ = ["make_denoising_autoencoder", "PSNRLoss", "denoise", "encode", "to_model_input"]


def make_denoising_autoencoder(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    stem_filters: int = 32,
    filters: Sequence[int] = (64, 64),
    latent_filters: int = 32,
    convs_per_stage: int = 1,
    bn_momentum: float = 0.9,
    name: str = "denoising_autoencoder",
) -> keras.Model:
    """Builds the autoencoder. The output is a sigmoid image (float32 under mixed precision).

    Encoder: a 3x3 stem convolution at full resolution, then per stage a stride-2 3x3
    convolution (halving the resolution) and `convs_per_stage - 1` more 3x3 convolutions,
    each followed by batch norm and ReLU, then a 1x1 convolution to the `latent_filters`
    channels of the latent map. Decoder: the mirror image, a stride-2 `Conv2DTranspose` per
    stage back to the width the encoder had at that resolution, then a 3x3 convolution
    with a sigmoid. The full-resolution layers (stem and last transpose) have no batch
    norm: on a 28x28 map it costs more CPU time than the convolution.

    Args:
        input_shape: `(height, width, channels)`; height and width must be divisible by
            `2 ** len(filters)`. Defaults to `(28, 28, 1)`.
        stem_filters: Width at full resolution. Defaults to `32`.
        filters: Width of each downsampling stage. Defaults to `(64, 64)`.
        latent_filters: Channels of the latent map (the bottleneck). Defaults to `32`.
        convs_per_stage: Convolutions per stage, the strided one included. Defaults to `1`.
        bn_momentum: Momentum of the batch-norm moving statistics; 0.9 settles within
            tens of steps, which short runs need. Defaults to `0.9`.
        name: Model name. Defaults to `"denoising_autoencoder"`.

    Returns:
        An uncompiled functional `keras.Model` whose layers are the sub-models `encoder`
        and `decoder`.

    Raises:
        ValueError: A non-positive width, no stages, or an input size the stages do not divide.
    """
    filters = tuple(filters)
    height, width, channels = (int(v) for v in input_shape)
    if not filters or min((*filters, stem_filters, latent_filters, convs_per_stage)) < 1:
        raise ValueError(
            "expected positive stem_filters, latent_filters, convs_per_stage and at least one "
            f"positive stage width. Received: stem_filters={stem_filters}, filters={filters}, "
            f"latent_filters={latent_filters}, convs_per_stage={convs_per_stage}"
        )
    factor = 2 ** len(filters)
    if height % factor or width % factor:
        raise ValueError(
            f"expected height and width divisible by 2**len(filters) = {factor}. "
            f"Received: input_shape={tuple(input_shape)}, filters={filters}"
        )

    image = keras.Input(shape=(height, width, channels), name="image")
    x = layers.Conv2D(stem_filters, 3, padding="same", activation="relu", name="stem")(image)
    for stage, units in enumerate(filters):
        for i in range(convs_per_stage):
            x = _conv_bn_relu(x, units, strides=2 if i == 0 else 1, momentum=bn_momentum, name=f"enc{stage}_{i}")
    latent = layers.Conv2D(latent_filters, 1, name="latent")(x)
    encoder = keras.Model(image, latent, name="encoder")

    code = keras.Input(shape=tuple(latent.shape[1:]), name="latent")
    x = code
    widths = (stem_filters, *filters[:-1])  # the encoder's width at each output resolution
    for stage in reversed(range(len(filters))):
        full_resolution = stage == 0
        for i in range(convs_per_stage - 1):
            x = _conv_bn_relu(x, filters[stage], momentum=bn_momentum, name=f"dec{stage}_{i}")
        x = layers.Conv2DTranspose(
            widths[stage], 3, strides=2, padding="same", use_bias=full_resolution, name=f"up{stage}"
        )(x)
        if not full_resolution:
            x = layers.BatchNormalization(momentum=bn_momentum, name=f"up{stage}_bn")(x)
        x = layers.ReLU(name=f"up{stage}_relu")(x)
    output = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", dtype="float32", name="reconstruction")(x)
    decoder = keras.Model(code, output, name="decoder")

    noisy = keras.Input(shape=(height, width, channels), name="noisy")
    return keras.Model(noisy, decoder(encoder(noisy)), name=name)


@keras.saving.register_keras_serializable(package="pipelines")
class PSNRLoss(keras.losses.Loss):
    """Negative PSNR of each image against its target (max_val 1), averaged over the batch.

    The reported metric is the mean over images of `10 log10(1 / mse_i)`; minimizing this
    loss maximizes exactly that, whereas the mean squared error weighs every image by its
    error, so it spends its effort on the hardest images, where a dB is most expensive.
    Image restorers such as NAFNet train with it for the same reason.

    Args:
        epsilon: Added to each image's mean squared error so a perfect image has a
            finite loss. Defaults to `1e-8` (a cap of 80 dB).
        name: Defaults to `"psnr_loss"`.
        **kwargs: Base `Loss` arguments (`reduction`, `dtype`).

    Example:
        >>> y = np.zeros((2, 4, 4, 1), "float32")
        >>> round(float(PSNRLoss()(y, y + 0.1)), 4)
        -20.0
    """

    def __init__(self, epsilon: float = 1e-8, name: str = "psnr_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if not epsilon > 0:
            raise ValueError(f"expected a positive epsilon. Received: epsilon={epsilon!r}")
        self.epsilon = float(epsilon)

    def call(self, y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
        y_true = ops.cast(y_true, y_pred.dtype)
        mse = ops.mean(ops.square(y_true - y_pred), axis=tuple(range(1, len(y_pred.shape))))
        return (10.0 / np.log(10.0)) * ops.log(mse + self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


def denoise(model: keras.Model, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """Runs the autoencoder on images.

    Args:
        model: A model from `make_denoising_autoencoder` (or a loaded one).
        images: uint8 in 0..255 or float in [0, 1], shape `(n, h, w)` or `(n, h, w, 1)`.
        batch_size: Images per forward pass. Defaults to `512`.

    Returns:
        float32 `(n, h, w, 1)` in [0, 1].

    Raises:
        DataValidationError: Images of another shape, dtype or range.

    Example:
        >>> model = make_denoising_autoencoder(filters=(8,), latent_filters=2, stem_filters=4)
        >>> denoise(model, np.zeros((3, 28, 28), "uint8")).shape
        (3, 28, 28, 1)
    """
    return model.predict(to_model_input(images), batch_size=batch_size, verbose=0)


def encode(model: keras.Model, images: np.ndarray, *, batch_size: int = 512) -> np.ndarray:
    """The latent maps of images, from the model's `encoder` sub-model.

    Args:
        model: A model from `make_denoising_autoencoder` (or a loaded one).
        images: uint8 in 0..255 or float in [0, 1], shape `(n, h, w)` or `(n, h, w, 1)`.
        batch_size: Images per forward pass. Defaults to `512`.

    Returns:
        float32 `(n, h / 2**stages, w / 2**stages, latent_filters)`.

    Raises:
        DataValidationError: Images of another shape, dtype or range.

    Example:
        >>> model = make_denoising_autoencoder(filters=(8,), latent_filters=2, stem_filters=4)
        >>> encode(model, np.zeros((3, 28, 28, 1), "float32")).shape
        (3, 14, 14, 2)
    """
    return model.get_layer("encoder").predict(to_model_input(images), batch_size=batch_size, verbose=0)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (scaled by 1/255) or float images in [0, 1] -> float32 `(n, h, w, 1)`.

    Raises:
        DataValidationError: Not `(n, h, w)` or `(n, h, w, 1)`, not numeric, or float
            values outside [0, 1].

    Example:
        >>> to_model_input(np.array([[[0, 255]]], "uint8"))[0, 0, :, 0].tolist()
        [0.0, 1.0]
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] != 1:
        raise DataValidationError(
            f"expected grayscale images of shape (n, h, w) or (n, h, w, 1). Received: shape {images.shape}"
        )
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    if images.dtype == bool or not np.issubdtype(images.dtype, np.floating):
        raise DataValidationError(
            f"expected uint8 (0..255) or float ([0, 1]) images. Received: dtype {images.dtype}. "
            "Convert integer images with x.astype('uint8') or scale them to [0, 1]."
        )
    images = images.astype("float32")
    if images.size and not (np.isfinite(images).all() and 0.0 <= images.min() and images.max() <= 1.0):
        raise DataValidationError(
            f"expected float images in [0, 1]. Received: values in "
            f"[{np.nanmin(images)}, {np.nanmax(images)}]. Divide uint8 pixels by 255."
        )
    return images


def _conv_bn_relu(
    x: keras.KerasTensor, units: int, *, momentum: float, name: str, strides: int = 1
) -> keras.KerasTensor:
    # No bias: the batch norm's offset plays that role.
    x = layers.Conv2D(units, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)
