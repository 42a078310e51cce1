"""The named image datasets of the image classifiers, and the shape each gives the model.

`load_image_set(name)` returns the images as the nets take them: MNIST and Fashion-MNIST
as 28x28 grayscale, CIFAR-10 as 32x32 RGB, and scikit-learn's 8x8 `digits` upsampled to
28x28 (bilinear), so a net built for one MNIST-family set fits every other.

Example:
    >>> data = load_image_set("digits")
    >>> data.x_train.shape[1:], IMAGE_SHAPES["cifar10"]
    ((28, 28), (32, 32, 3))
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from pipelines.inputs.mnist import ImageData, load_mnist_family

__all__ = ["IMAGE_DATASETS", "IMAGE_SHAPES", "load_image_set", "model_shape"]

# Each named set's images as the model takes them: (height, width, channels).
IMAGE_SHAPES: dict[str, tuple[int, int, int]] = {
    "mnist": (28, 28, 1),
    "fashion_mnist": (28, 28, 1),
    "digits": (28, 28, 1),
    "cifar10": (32, 32, 3),
}
IMAGE_DATASETS = tuple(IMAGE_SHAPES)


def load_image_set(name: str, data_dir: str | os.PathLike | None = None) -> ImageData:
    """Loads a named image dataset (see the module docstring); `data_dir` as for its loader.

    Raises:
        UnknownDatasetError, ConfigError, DatasetUnavailable, ChecksumMismatch,
        DataValidationError: as `load_mnist_family` and `load_cifar10` raise them.
    """
    if name == "cifar10":
        from pipelines.inputs.cifar10 import load_cifar10

        return load_cifar10(data_dir)
    data = load_mnist_family(name, data_dir)
    if name != "digits":
        return data
    side = IMAGE_SHAPES["digits"][0]
    info = {**data.info, "resized": f"8x8 upsampled to {side}x{side} (bilinear), the MNIST size"}
    return dataclasses.replace(
        data, x_train=_resized(data.x_train, side), x_test=_resized(data.x_test, side), info=info
    )


def model_shape(images: np.ndarray) -> tuple[int, int, int]:
    """(height, width, channels) of uint8 images `(n, h, w)` or `(n, h, w, c)`."""
    return (*images.shape[1:3], images.shape[3] if images.ndim == 4 else 1)  # type: ignore[return-value]


def _resized(x: np.ndarray, side: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(x[..., None].astype("float32"), (side, side)).numpy()[..., 0]
    return np.clip(np.round(resized), 0, 255).astype("uint8")
