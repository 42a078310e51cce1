"""Raw images from users (files, folders, uint8 arrays) converted to what a model was trained on.

A model takes one shape, e.g. 28x28 grayscale (MNIST) or 32x32 RGB (CIFAR-10). Any other
image is converted with Pillow: to luminance (ITU-R 601-2, Pillow's "L" mode) for a
one-channel model or to RGB for a three-channel one (alpha dropped, grayscale repeated),
then resized with bilinear filtering. Each image's conversion is stated, so an output can
say what was done.

Example:
    >>> import numpy as np
    >>> batch = read_images(np.zeros((2, 56, 40, 3), "uint8"))
    >>> batch.images.shape, batch.names, batch.conversions[0]
    ((2, 28, 28, 1), ['0', '1'], 'RGB 40x56 -> L 28x28')
    >>> read_images(np.zeros((1, 28, 28), "uint8"), shape=(32, 32, 3)).conversions
    ['L 28x28 -> RGB 32x32']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipelines.errors import DataValidationError

__all__ = ["ImageBatch", "read_images", "convert_picture", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_MODES = {1: "L", 3: "RGB"}


class ImageBatch(NamedTuple):
    """Images as the model takes them, with a name and the conversion done for each."""

    images: np.ndarray  # uint8 (n, height, width, channels)
    names: list[str]  # the path, or the row number of an array
    conversions: list[str]  # e.g. "RGB 64x64 -> L 28x28", or "none"


def read_images(inputs: Any, shape: tuple[int, int, int] = (28, 28, 1)) -> ImageBatch:
    """Reads and converts images to uint8 `(n, *shape)`.

    Args:
        inputs: A path (an image file or a folder, searched recursively for PNG, JPEG, BMP
            and GIF files), a list of paths, or a uint8 array `(n, H, W)` / `(n, H, W, C)`
            with C of 1, 3 or 4 (a batch axis first, also for one image).
        shape: (height, width, channels) the model takes; channels 1 or 3.

    Raises:
        DataValidationError: No image, a missing or unreadable file (named), or an array of
            another shape or type.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(inputs, np.ndarray):
        if (
            inputs.dtype != np.uint8
            or inputs.ndim not in (3, 4)
            or (inputs.ndim == 4 and inputs.shape[3] not in (1, 3, 4))
        ):
            raise DataValidationError(
                f"expected uint8 images (n, H, W) or (n, H, W, C) with C in 1, 3, 4. "
                f"Received {inputs.dtype} of shape {inputs.shape}"
            )
        if inputs.ndim == 3 and shape[2] == 3 and inputs.shape[2] in (3, 4):
            # For a colour model, (H, W, 3) is one image missing its batch axis far more often
            # than H grayscale images of W x 3 pixels.
            raise DataValidationError(
                f"expected a batch of images (n, H, W, C). Received shape {inputs.shape}: for one colour "
                "image add the batch axis, images[None]"
            )
        pictures = [
            Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image) for image in inputs
        ]
        names = [str(i) for i in range(len(inputs))]
    else:
        pictures, names = [], []
        for path in _image_paths(inputs):
            try:
                with Image.open(path) as picture:
                    picture.load()
                    pictures.append(picture.copy())
            except (OSError, UnidentifiedImageError) as e:
                raise DataValidationError(f"cannot read the image {path}: {e}") from e
            names.append(str(path))
    if not pictures:
        raise DataValidationError("expected at least one image. Received none")
    converted = [convert_picture(p, shape) for p in pictures]
    images = np.stack([c[0] for c in converted])
    return ImageBatch(images, names, [c[1] for c in converted])


def convert_picture(picture: Any, shape: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """A Pillow image as uint8 `shape` (see the module docstring), and what was done to it."""
    from PIL import Image

    height, width, channels = shape
    mode, size = _MODES[channels], (width, height)
    pixels = np.asarray(picture.convert(mode).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)
    same = picture.mode == mode and picture.size == size
    conversion = "none" if same else f"{picture.mode} {picture.size[0]}x{picture.size[1]} -> {mode} {width}x{height}"
    return pixels.reshape(shape), conversion


def _image_paths(inputs: Any) -> list[Path]:
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.is_file():
            paths.append(path)
        else:
            raise DataValidationError(f"expected image files or folders. Received {str(path)!r}: no such file")
    return paths
