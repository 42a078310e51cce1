"""Images and labels from Python as an image dataset, and the `.npz` copy a run keeps of them.

`run("mnist", data=(images, labels))` (or `vit`): images uint8 `(n, H, W)` or
`(n, H, W, C)` with C of 1 or 3; labels class indices `0..k-1` (named "0", "1", ...) or
class names (sorted). A stratified test split (`test_fraction`, seed 0) is held out, as for
a folder. The run keeps the checked arrays as `input.npz` (x, y, class_names) and its config
names that file, so `dataset=RUN/input.npz` repeats the run.

Example:
    >>> import numpy as np
    >>> x = np.zeros((9, 5, 6), "uint8"); y = np.array(["cat", "dog", "owl"] * 3)
    >>> data = image_arrays(x, y, test_fraction=0.3)
    >>> data.class_names, data.x_train.shape, data.x_test.shape
    (['cat', 'dog', 'owl'], (6, 5, 6), (3, 5, 6))
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import DataValidationError
from pipelines.inputs.images import check_images
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.splits import train_val_split

__all__ = ["image_arrays", "to_npz", "load_image_npz", "INPUT_NPZ", "SPLIT_SEED"]

INPUT_NPZ = "input.npz"
SPLIT_SEED = 0
_MIN_PER_CLASS = 3  # one each for train, validation and test


def image_arrays(images: Any, labels: Any, *, test_fraction: float = 0.2, source: str = "arrays") -> ImageData:
    """Checks images and labels and splits them (see the module docstring).

    Raises:
        DataValidationError: Images of another type or shape, labels that are not one per
            image, fewer than two classes, or a class with fewer than three images.
    """
    x = np.asarray(images)
    check_images(x)
    y_given = np.asarray(labels)
    if y_given.shape != (len(x),):
        raise DataValidationError(
            f"expected one label per image, shape ({len(x)},). Received labels of shape {y_given.shape}"
        )
    if np.issubdtype(y_given.dtype, np.integer):
        if y_given.min() < 0:
            raise DataValidationError(f"expected class indices >= 0. Received {int(y_given.min())}")
        class_names = [str(i) for i in range(int(y_given.max()) + 1)]
        y = y_given.astype(np.int64)
    elif y_given.dtype.kind in "USO" and all(isinstance(v, str) for v in y_given.tolist()):
        class_names = sorted(set(y_given.tolist()))
        y = np.searchsorted(np.asarray(class_names), y_given).astype(np.int64)
    else:
        raise DataValidationError(f"expected class indices or class names as labels. Received dtype {y_given.dtype}")
    counts = np.bincount(y, minlength=len(class_names))
    if len(class_names) < 2 or counts.min() < _MIN_PER_CLASS:
        few = [f"{class_names[i]!r}: {n}" for i, n in enumerate(counts) if n < _MIN_PER_CLASS]
        raise DataValidationError(
            f"expected at least two classes of at least {_MIN_PER_CLASS} images each (train, validation and "
            f"test need one each). Received {len(class_names)} class(es)"
            + (f"; too few: {', '.join(few)}" if few else "")
        )
    x_train, y_train, x_test, y_test = train_val_split(x, y, test_fraction, SPLIT_SEED)
    info = {
        "name": "arrays",
        "source": source,
        "splits": {"train": len(y_train), "test": len(y_test)},
        "checksum_verified": False,
        "resolved_by": "arrays",
        "split": {"method": "stratified", "test_fraction": test_fraction, "seed": SPLIT_SEED},
        "class_counts": {"all": counts.tolist()},
    }
    return ImageData(x_train, y_train, x_test, y_test, class_names=class_names, info=info)


def to_npz(images: Any, labels: Any) -> bytes:
    """The `input.npz` copy of checked arrays: x, y (as given) and nothing else."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.asarray(images), y=np.asarray(labels))
    return buffer.getvalue()


def load_image_npz(path: str | os.PathLike, *, test_fraction: float = 0.2) -> ImageData:
    """Reads a run's `input.npz` (or any `.npz` with `x` and `y`) as `image_arrays` does.

    Raises:
        DataValidationError: The file cannot be read, or lacks `x` or `y`.
    """
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            if not {"x", "y"} <= set(npz.files):
                raise DataValidationError(f"expected arrays x and y in {path}. Received {sorted(npz.files)}")
            x, y = npz["x"], npz["y"]
    except (OSError, ValueError) as e:
        raise DataValidationError(f"cannot read {path} as an .npz of images: {e}") from e
    return image_arrays(x, y, test_fraction=test_fraction, source=str(Path(path).resolve()))
