"""Image grids: a sample of images (inputs, reconstructions, generated), each with a title."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError

__all__ = ["image_grid_figure"]


def image_grid_figure(images: np.ndarray, titles: Sequence[str], ncols: int = 8, cmap: str = "gray") -> Figure:
    """Draws images in a grid with a small title over each.

    Float RGB images outside [0, 1] are min-max scaled per image for display only.

    Args:
        images: Shape `(n, h, w)`, `(n, h, w, 1)` or `(n, h, w, 3)`.
        titles: One title per image.
        ncols: Number of columns. Defaults to `8`.
        cmap: Colormap for single-channel images. Defaults to `"gray"`.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the shape is unsupported, `images` is empty, or the
            number of titles differs from the number of images.

    Example:
        >>> fig = image_grid_figure(np.zeros((3, 8, 8)), ["a", "b", "c"], ncols=2)
        >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
        ['a', 'b', 'c']
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise DataValidationError(
            f"expected images of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3). Received: shape {images.shape}."
        )
    if len(images) == 0:
        raise DataValidationError("expected at least one image. Received: 0 images.")
    if len(titles) != len(images):
        raise DataValidationError(
            f"expected one title per image. Received: {len(titles)} titles for {len(images)} images."
        )
    if ncols < 1:
        raise DataValidationError(f"expected a positive integer. Received: ncols={ncols}")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(1.6 * ncols, 1.9 * nrows), layout="constrained")
    for i, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        if image.ndim == 3:
            ax.imshow(_displayable_rgb(image))
        else:
            ax.imshow(image, cmap=cmap)
        ax.set_title(str(title), fontsize=7)
        ax.set_axis_off()
    return fig


def _displayable_rgb(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.integer):
        return image
    image = image.astype(np.float64)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if low >= 0.0 and high <= 1.0:
        return image
    return (image - low) / (high - low) if high > low else np.zeros_like(image)
