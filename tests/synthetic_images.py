"""Tiny MNIST-like image data made in the test, for pipelines that read the MNIST family."""

from __future__ import annotations

import numpy as np

from pipelines.inputs.mnist import DIGIT_CLASS_NAMES, ImageData


def bar_digits(n_train: int, n_test: int = 200, seed: int = 0) -> ImageData:
    """Ten classes of 28x28 uint8 images: class k is a bright bar at column 2 + 2k, plus speckle."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 10
        x = (rng.random((n, 28, 28)) * 40).astype("uint8")
        for i, k in enumerate(y):
            x[i, 4:24, 2 + 2 * k : 5 + 2 * k] = 230
        return x, y.astype(np.int64)

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return ImageData(
        x_train,
        y_train,
        x_test,
        y_test,
        list(DIGIT_CLASS_NAMES),
        {"name": "synthetic", "source": "test", "checksum_verified": False},
    )


def colour_squares(per_class: int = 20, size: int = 18, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of uint8 RGB images (n, size, size, 3): speckle with one channel raised by 150.

    Returns:
        `(images, labels)`, labels the names "red", "green", "blue" (in that order, repeated per image).
    """
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        for _ in range(per_class):
            pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
            pixels[..., channel] += 150
            images.append(pixels)
            labels.append(name)
    return np.stack(images), np.array(labels)
