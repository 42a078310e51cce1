"""The image input of the image estimators: images in any accepted layout -> model input.

`ImageClassifier`, `DenoisingAutoencoder` and `DCGAN` accept grayscale `(n, h, w)`,
`(n, h, w, 1)` or flat `(n, h * w)` rows, uint8 or floats in [0, 1]; `ImageClassifier`
also colour `(n, h, w, 3)` (flat rows of a fitted colour shape too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.utils.validation import check_array

from pipelines.errors import DataValidationError

__all__ = ["to_images"]


def to_images(
    X: Any, image_shape: tuple[int, ...] | None = None, *, colour: bool = False
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Images in any of the accepted layouts -> float32 `(n, h, w, c)` in [0, 1].

    Args:
        X: `(n, h, w)`, `(n, h, w, 1)` or flat `(n, h * w)` rows with a square `h * w`
            (or `image_shape`'s); with `colour`, also `(n, h, w, 3)`. uint8 or integers
            in 0..255 (divided by 255), or floats in [0, 1].
        image_shape: The `(h, w, c)` the images must have (a fitted estimator's);
            `None` accepts any. Defaults to `None`.
        colour: Whether three-channel images are accepted. Defaults to `False`.

    Returns:
        The images and the layout of `X` without its first axis (to give results back
        in it).

    Raises:
        DataValidationError: Another shape, a non-square flat row, a shape other than
            `image_shape`, or pixel values out of range.

    Example:
        >>> images, layout = to_images(np.zeros((2, 784), "uint8"))
        >>> images.shape, layout
        ((2, 28, 28, 1), (784,))
    """
    from pipelines.nets.autoencoder import to_model_input

    try:
        X = check_array(X, dtype=None, allow_nd=True, ensure_all_finite=True, input_name="X")
    except ValueError as e:
        raise DataValidationError(str(e)) from e
    layout = tuple(X.shape[1:])
    if X.ndim == 2:
        side = math.isqrt(X.shape[1])
        shape = tuple(image_shape) if image_shape is not None else (side, side, 1)
        if math.prod(shape) != X.shape[1]:
            raise DataValidationError(
                f"expected flat rows of {' x '.join(map(str, shape))} = {math.prod(shape)} values. Received: "
                f"{X.shape[1]} features per row. Pass images as (n, h, w) when they are not square."
            )
        X = X.reshape(len(X), *shape)
    if np.issubdtype(X.dtype, np.integer) and X.dtype != np.uint8:
        if X.size and (X.min() < 0 or X.max() > 255):
            raise DataValidationError(f"expected integer pixels in 0..255. Received: values in [{X.min()}, {X.max()}].")
        X = X.astype(np.uint8)
    if colour and X.ndim == 4 and X.shape[-1] == 3:  # each channel as a grayscale image: the same checks
        images = np.concatenate([to_model_input(X[..., [c]]) for c in range(3)], axis=-1)
    else:
        images = to_model_input(X)
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        raise DataValidationError(
            f"expected images of shape {tuple(image_shape)} as in fit. Received: "
            f"{images.shape[1:]} (from X of shape {X.shape})."
        )
    return images, layout
