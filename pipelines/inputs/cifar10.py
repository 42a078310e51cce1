"""CIFAR-10 (Krizhevsky 2009), binary version: 60,000 32x32 RGB images in 10 classes.

The six `.bin` files (kept gzip'd) and `batches.meta.txt` are found by `resolve_dataset`
and checked against the manifest as each file is decompressed (once); users with internet
get them from `cifar-10-binary.tar.gz` into the cache. Each `.bin` holds 10,000 records of
3,073 bytes: the label, then the red, green and blue 32x32 planes.
"""

from __future__ import annotations

import os

import numpy as np

from pipelines.errors import DataValidationError
from pipelines.inputs.manifest import get_dataset_entry
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.sources import read_verified, resolve_dataset

__all__ = ["load_cifar10", "parse_records", "CIFAR10_CLASS_NAMES"]

CIFAR10_CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = tuple(f"data_batch_{i}.bin.gz" for i in range(1, 6))
TEST_FILES = ("test_batch.bin.gz",)
_RECORD = 1 + 3 * 32 * 32


def load_cifar10(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> ImageData:
    """Loads CIFAR-10 as uint8 images `(n, 32, 32, 3)` and int64 labels.

    Args:
        data_dir: A folder holding the files (or a root holding `cifar10/`); see
            `resolve_dataset` for where else they are looked for. Defaults to `None`.
        download: Whether missing files may be downloaded into the cache. Defaults to `True`.

    Returns:
        An `ImageData`: 50,000 training and 10,000 test images, the class names from
        `batches.meta.txt`.

    Raises:
        DatasetUnavailable: The files are not found and cannot be downloaded.
        ChecksumMismatch: A file does not match the manifest.
        DataValidationError: The class names file does not list the ten classes.
    """
    resolved = resolve_dataset("cifar10", data_dir, download=download, verify=False)
    entry = get_dataset_entry("cifar10")

    def read(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        # read_verified decompresses and checks each file in one pass.
        parts = [parse_records(read_verified(resolved.files[name], entry.file(name))) for name in names]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    meta = read_verified(resolved.files["batches.meta.txt"], entry.file("batches.meta.txt"))
    class_names = meta.decode("ascii").split()
    if class_names != CIFAR10_CLASS_NAMES:
        raise DataValidationError(f"expected the ten CIFAR-10 classes in batches.meta.txt. Received: {class_names}")
    x_train, y_train = read(TRAIN_FILES)
    x_test, y_test = read(TEST_FILES)
    info = {
        "name": "cifar10",
        "source": str(resolved.directory),
        "splits": {"train": len(y_train), "test": len(y_test)},
        "checksum_verified": True,
        "resolved_by": resolved.source,
        "files": {name: str(path) for name, path in resolved.files.items()},
    }
    return ImageData(x_train, y_train, x_test, y_test, class_names=class_names, info=info)


def parse_records(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 binary records to uint8 images `(n, 32, 32, 3)` and int64 labels.

    Example:
        >>> record = bytes([7]) + bytes(1024) + bytes([255] * 1024) + bytes(1024)  # all green
        >>> images, labels = parse_records(record)
        >>> images.shape, labels.tolist(), images[0, 0, 0].tolist()
        ((1, 32, 32, 3), [7], [0, 255, 0])
    """
    if len(content) % _RECORD:
        raise DataValidationError(
            f"expected CIFAR-10 records of {_RECORD} bytes. Received {len(content)} bytes, not a multiple"
        )
    records = np.frombuffer(content, np.uint8).reshape(-1, _RECORD)
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, 0].astype(np.int64)
