"""Dataset inputs: finding, checking and reading dataset files.

- `manifest`: the known datasets, their files, URLs and checksums (`manifest.json`).
- `sources`: `resolve_dataset` (argument, env, cache, system, download), `verify_file`,
  `read_verified`.
- `idx`: `parse_idx`, the IDX format of the MNIST files.
- `mnist`: `load_mnist_family` for MNIST, Fashion-MNIST and scikit-learn's digits.
- `splits`: `train_val_split`, seeded and stratified.

Names are imported lazily, so importing this package loads neither numpy nor
TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DatasetEntry": "manifest",
    "FileEntry": "manifest",
    "UnknownDatasetError": "manifest",
    "get_dataset_entry": "manifest",
    "ResolvedDataset": "sources",
    "default_cache_dir": "sources",
    "read_verified": "sources",
    "resolve_dataset": "sources",
    "verify_file": "sources",
    "parse_idx": "idx",
    "ImageData": "mnist",
    "load_mnist_family": "mnist",
    "train_val_split": "splits",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
