"""DiffAugment (Zhao et al. 2020): differentiable augmentation of the images a GAN discriminator sees."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["diff_augment"]


def diff_augment(
    images: Any, seed_generator: keras.random.SeedGenerator, *, translation: float = 0.125, cutout: float = 0.5
) -> Any:
    """Differentiable augmentation (Zhao et al. 2020): random translation, then cutout.

    Gradients flow through to the images, so it can sit between the generator and the
    discriminator. Translation shifts each image by up to `translation * size` pixels
    with zero padding (the background of [-1, 1] images is -1, so the shift pads with
    -1); cutout sets one square of side `cutout * size` per image to -1.

    Args:
        images: (n, h, w, c) float images in [-1, 1].
        seed_generator: The source of randomness (one per model, so it is checkpointed).
        translation: Largest shift as a fraction of the side; 0 disables. Defaults to `0.125`.
        cutout: Side of the cut square as a fraction of the side; 0 disables. Defaults to `0.5`.

    Returns:
        The augmented images, same shape.

    Example:
        >>> import numpy as np
        >>> x = np.ones((2, 8, 8, 1), "float32")
        >>> y = ops.convert_to_numpy(diff_augment(x, keras.random.SeedGenerator(0)))
        >>> y.shape, sorted(set(y.ravel().tolist()))
        ((2, 8, 8, 1), [-1.0, 1.0])
    """
    images = ops.convert_to_tensor(images)
    n, h, w = ops.shape(images)[0], images.shape[1], images.shape[2]
    if translation > 0:
        # Pad by the largest shift, then crop at a random offset: a shift in [-s, s].
        sh, sw = int(h * translation + 0.5), int(w * translation + 0.5)
        padded = ops.pad(images + 1.0, [[0, 0], [sh, sh], [sw, sw], [0, 0]]) - 1.0
        dy = keras.random.randint((n,), 0, 2 * sh + 1, seed=seed_generator)
        dx = keras.random.randint((n,), 0, 2 * sw + 1, seed=seed_generator)
        # Gather rows and columns per image: index grids of (n, h) and (n, w).
        rows = dy[:, None] + ops.arange(h)[None, :]
        cols = dx[:, None] + ops.arange(w)[None, :]
        images = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)
        images = ops.take_along_axis(images, cols[:, None, :, None], axis=2)
    if cutout > 0:
        # As in the reference DiffAugment: a square centred anywhere in the image, clipped at its edges.
        ch, cw = int(h * cutout + 0.5), int(w * cutout + 0.5)
        top = keras.random.randint((n, 1), 0, h + (1 - ch % 2), seed=seed_generator) - ch // 2
        left = keras.random.randint((n, 1), 0, w + (1 - cw % 2), seed=seed_generator) - cw // 2
        row, col = ops.arange(h)[None, :], ops.arange(w)[None, :]
        inside_y = (row >= top) & (row < top + ch)
        inside_x = (col >= left) & (col < left + cw)
        mask = ops.logical_and(inside_y[:, :, None], inside_x[:, None, :])[..., None]
        images = ops.where(mask, ops.cast(-1.0, images.dtype), images)
    return images
