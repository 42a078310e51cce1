"""Loaders of the MNIST family: MNIST, Fashion-MNIST and scikit-learn's 8x8 digits.

MNIST and Fashion-MNIST are read from their four IDX files, found by
`resolve_dataset` and checked against the manifest as each file is decompressed (once).
`digits` is the small dataset bundled with scikit-learn, split here with a fixed seed.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.idx import parse_idx
from pipelines.inputs.manifest import UnknownDatasetError, get_dataset_entry
from pipelines.inputs.sources import read_verified, resolve_dataset
from pipelines.inputs.splits import train_val_split

__all__ = [
    "DIGIT_CLASS_NAMES",
    "FASHION_CLASS_NAMES",
    "MNIST_FAMILY",
    "ImageData",
    "load_mnist_family",
]

MNIST_FAMILY = ("mnist", "fashion_mnist", "digits")
DIGIT_CLASS_NAMES = [str(digit) for digit in range(10)]
# The official label names, from the Fashion-MNIST README.
FASHION_CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
# split -> (images file, labels file); MNIST and Fashion-MNIST share the names.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0


@dataclasses.dataclass(frozen=True)
class ImageData:
    """Images and labels of a train/test split.

    Attributes:
        x_train: uint8 images, `(n, 28, 28)` (or `(n, 8, 8)` for digits), 0..255.
        y_train: int64 class indices, `(n,)`.
        x_test: uint8 test images.
        y_test: int64 test labels.
        class_names: The name of each class index.
        info: `name`, `source` (folder or origin), `splits` ({"train": n, "test": n}),
            `checksum_verified` and `resolved_by` (the rule that found the files), plus
            `files` (name to path) or, for digits, `split` and `note`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    info: dict[str, Any]


def load_mnist_family(
    name: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> ImageData:
    """Loads MNIST, Fashion-MNIST or scikit-learn's digits as uint8 images.

    Args:
        name: `"mnist"`, `"fashion_mnist"` or `"digits"`. Defaults to `"mnist"`.
        data_dir: A folder holding the four .gz IDX files (or a root holding
            `<dataset>/`); see `resolve_dataset` for where else they are looked for.
            Must be `None` for digits. Defaults to `None`.
        download: Whether missing files may be downloaded into the cache. Defaults to
            `True`.

    Returns:
        An `ImageData`.

    Raises:
        UnknownDatasetError: if `name` is not one of the three.
        ConfigError: if `data_dir` is given for digits.
        DatasetUnavailable: if the files are not found and cannot be downloaded.
        ChecksumMismatch: if a file does not match the manifest.
        DataValidationError: if a file's arrays have unexpected shapes or labels.

    Example:
        >>> data = load_mnist_family("digits")
        >>> data.x_train.shape, data.x_test.shape, int(data.x_train.max())
        ((1437, 8, 8), (360, 8, 8), 255)
    """
    if name not in MNIST_FAMILY:
        raise UnknownDatasetError(
            f"Unknown MNIST-family dataset {name!r}. Known: {', '.join(MNIST_FAMILY)}. Pass one of these names."
        )
    if name == "digits":
        if data_dir is not None:
            raise ConfigError(
                "digits is bundled with scikit-learn and reads no files. "
                f"Received: data_dir={str(data_dir)!r}. Pass data_dir=None."
            )
        return _load_digits()

    resolved = resolve_dataset(name, data_dir, download=download, verify=False)
    entry = get_dataset_entry(name)
    splits = {}
    for split, (images_file, labels_file) in IDX_FILES.items():
        # read_verified decompresses and checks each file in one pass.
        images = parse_idx(read_verified(resolved.files[images_file], entry.file(images_file)))
        labels = parse_idx(read_verified(resolved.files[labels_file], entry.file(labels_file)))
        splits[split] = _checked(images, labels, f"{name} {split}")
    info = {
        "name": name,
        "source": str(resolved.directory),
        "splits": {split: len(y) for split, (_, y) in splits.items()},
        "checksum_verified": True,
        "resolved_by": resolved.source,
        "files": {file_name: str(path) for file_name, path in resolved.files.items()},
    }
    class_names = FASHION_CLASS_NAMES if name == "fashion_mnist" else DIGIT_CLASS_NAMES
    return ImageData(*splits["train"], *splits["test"], class_names=list(class_names), info=info)


def _checked(images: np.ndarray, labels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataValidationError(
            f"expected {what} images of uint8 (n, 28, 28). Received: {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataValidationError(
            f"expected one {what} label per image ({len(images)}). Received: labels of shape {labels.shape}"
        )
    if labels.size and not 0 <= labels.min() <= labels.max() <= 9:
        raise DataValidationError(f"expected {what} labels in 0..9. Received: {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)


def _load_digits() -> ImageData:
    from sklearn.datasets import load_digits  # heavy; only for this dataset

    bunch = load_digits()
    # Pixel values are 0..16; scale them to the 0..255 of the 28x28 datasets.
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    x_train, y_train, x_test, y_test = train_val_split(
        images, bunch.target.astype(np.int64), DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED
    )
    info = {
        "name": "digits",
        "source": "sklearn.datasets.load_digits",
        "splits": {"train": len(y_train), "test": len(y_test)},
        "checksum_verified": False,
        "resolved_by": "bundled",
        "split": {
            "method": "stratified sklearn train_test_split",
            "test_size": DIGITS_TEST_FRACTION,
            "seed": DIGITS_SPLIT_SEED,
        },
        "note": (
            "Bundled with scikit-learn (the 1797 8x8 images of UCI's Optical "
            "Recognition of Handwritten Digits test set), so no checksum is kept; "
            "values 0..16 rescaled to 0..255 by *255/16, rounded."
        ),
    }
    return ImageData(x_train, y_train, x_test, y_test, class_names=list(DIGIT_CLASS_NAMES), info=info)
