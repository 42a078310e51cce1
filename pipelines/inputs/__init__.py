"""Dataset inputs: finding, checking and reading dataset files.

- `manifest`: the known datasets, their files, URLs and checksums (`manifest.json`).
- `sources`: `resolve_dataset` (argument, env, cache, system, download).
- `checksums`: `verify_file`, `read_verified` (content against the manifest's sha256);
  `downloads`: fetching a missing file, checked, then renamed into place.
- `idx`: `parse_idx`, the IDX format of the MNIST files.
- `mnist`: `load_mnist_family` for MNIST, Fashion-MNIST and scikit-learn's digits.
- `text/`: the IMDB, MR and custom text sources and their validators; `text_vectorizer`,
  `text_dataset`, `text_groups`: the text input step.
- `images`, `corruption`, `pixel_clusters`, `tabular`: the other input steps.
- `splits`: `train_val_split`, K-fold ids and stratified folds, all seeded.

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
    "read_verified": "checksums",
    "resolve_dataset": "sources",
    "verify_file": "checksums",
    "parse_idx": "idx",
    "ImageData": "mnist",
    "load_mnist_family": "mnist",
    "train_val_split": "splits",
    "kfold_ids": "splits",
    "stratified_fold_ids": "splits",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
