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
