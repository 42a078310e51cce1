"""`load_imdb`: the IMDB reviews (Maas et al. 2011), 25k train / 25k test, from one of three sources.

In order: the CSV files of the manifest (checksums verified); else an `aclImdb/` folder;
else (online only) `tensorflow_datasets`' `imdb_reviews`. `info["resolved_by"]` says
which.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import DatasetUnavailable, DataValidationError
from pipelines.inputs.manifest import get_dataset_entry
from pipelines.inputs.sources import (
    DATA_DIR_ENV,
    OFFLINE_ENV,
    default_cache_dir,
    is_offline,
    read_verified,
    resolve_dataset,
)
from pipelines.inputs.text.checks import _counts, _shown, check_texts_and_labels
from pipelines.inputs.text.data import TEXT_CLASS_NAMES, TextData
from pipelines.inputs.text.decoding import _check_encoding, _decode, _parse_csv, _require_columns

__all__ = ["IMDB_FILES", "IMDB_TFDS_NAME", "load_imdb"]


# split -> file of the manifest's `imdb` dataset (columns text,label; 1 = positive).
IMDB_FILES = {"train": "train.csv.gz", "test": "test.csv.gz"}
IMDB_TFDS_NAME = "imdb_reviews"
_ACL_ID_RE = re.compile(r"^(\d+)_(\d+)\.txt$")

logger = logging.getLogger(__name__)


def load_imdb(
    data_dir: str | os.PathLike | None = None,
    *,
    encoding: str = "utf-8",
    download: bool = True,
) -> TextData:
    """Loads the IMDB reviews (Maas et al. 2011): 25,000 train and 25,000 test.

    Looks for, in order: the manifest's `train.csv.gz` and `test.csv.gz` (see
    `resolve_dataset`; their content is checked against the manifest); an `aclImdb/`
    folder (`train/pos/*.txt`, `train/neg/*.txt`, `test/...`) in `data_dir`, or else in
    `$PIPELINES_DATA_DIR` or the cache, each also under `sentiment/imdb/`; and, only when
    `data_dir` is not given, `download` is true and `PIPELINES_OFFLINE` is unset,
    `tensorflow_datasets`' `imdb_reviews` (the same reviews, downloaded by tfds into
    the cache). Texts are negatives then positives, as in the files: shuffle before use.

    Args:
        data_dir: A folder holding the CSV files or an `aclImdb/` folder (or a root
            holding `sentiment/imdb/`). When given, nothing else is tried. Defaults to
            `None`.
        encoding: The encoding of the CSV or `aclImdb` files. Defaults to `"utf-8"`.
        download: Whether `tensorflow_datasets` may download the reviews when no files
            are found. Defaults to `True`.

    Returns:
        A `TextData` with both splits; labels 1 = positive.

    Raises:
        DatasetUnavailable: if no copy is found (nor downloadable); the message says
            where it looked and what to put where.
        ChecksumMismatch: if a CSV file does not match the manifest.
        DataValidationError: if a file cannot be decoded with `encoding`, or holds an
            empty review or a label other than 0/1.

    Example:
        >>> import tempfile
        >>> try:  # an empty folder: nothing else is tried
        ...     load_imdb(tempfile.mkdtemp())
        ... except FileNotFoundError as err:
        ...     print("aclImdb" in str(err))
        True
    """
    _check_encoding(encoding)
    try:
        resolved = resolve_dataset("imdb", data_dir, download=download, verify=False)
    except DatasetUnavailable as err:
        return _load_imdb_elsewhere(err, data_dir, encoding, download)
    entry = get_dataset_entry("imdb")
    splits = {}
    for split, file_name in IMDB_FILES.items():
        path = resolved.files[file_name]
        # read_verified decompresses and checks each file in one pass.
        data = read_verified(path, entry.file(file_name))
        frame = _parse_csv(_decode(data, encoding, str(path)), str(path))
        _require_columns(frame, ["text", "label"], str(path), "The IMDB files have the header text,label.")
        splits[split] = check_texts_and_labels(
            frame["text"].to_numpy(dtype=object), frame["label"].to_numpy(dtype=object), where=f"{path}", position="row"
        )[:2]
    info = {
        "name": "imdb",
        "source": str(resolved.directory),
        "checksum_verified": True,
        "resolved_by": resolved.source,
        "files": {name: str(path) for name, path in resolved.files.items()},
        "encoding": encoding,
    }
    return _split_data(splits, list(TEXT_CLASS_NAMES), info)


# ----------------------------------------------------------------------------- IMDB


def _load_imdb_elsewhere(
    err: DatasetUnavailable, data_dir: str | os.PathLike | None, encoding: str, download: bool
) -> TextData:
    """The aclImdb folder or tensorflow_datasets, once the CSV files were not found."""
    roots = [Path(data_dir).expanduser()] if data_dir is not None else _search_roots()
    if data_dir is None and _partial_imdb_csv(roots):
        raise err  # a half-copied folder is a mistake to fix, not a miss to route around
    for root in roots:
        folder = _find_acl_imdb(root)
        if folder is not None:
            return _load_acl_imdb(folder, encoding)
    acl_hint = (
        f"Or put the aclImdb/ folder of aclImdb_v1.tar.gz (train/pos, train/neg, "
        f"test/pos, test/neg) in {' or '.join(str(r) for r in roots) or 'data_dir'}."
    )
    if data_dir is not None:
        raise DatasetUnavailable(f"{err}\n{acl_hint}") from err
    if not download or is_offline():
        why = f"{OFFLINE_ENV} is set" if is_offline() else "download=False"
        raise DatasetUnavailable(
            f"{err}\n{acl_hint}\nOr, online, let tensorflow_datasets fetch {IMDB_TFDS_NAME!r} (not tried: {why})."
        ) from err
    logger.warning(
        "IMDB CSV files and aclImdb/ not found; loading tensorflow_datasets' %r (the same 25k/25k reviews) into %s",
        IMDB_TFDS_NAME,
        _tfds_dir(),
    )
    try:
        return _load_imdb_tfds(encoding)
    except DatasetUnavailable as tfds_err:
        raise DatasetUnavailable(f"{err}\n{acl_hint}\n{tfds_err}") from tfds_err


def _search_roots() -> list[Path]:
    env_root = os.environ.get(DATA_DIR_ENV, "").strip()
    return ([Path(env_root).expanduser()] if env_root else []) + [default_cache_dir()]


def _partial_imdb_csv(roots: list[Path]) -> bool:
    subdir = get_dataset_entry("imdb").subdir
    return any((root / subdir / name).is_file() for root in roots for name in IMDB_FILES.values())


def _find_acl_imdb(root: Path) -> Path | None:
    """`root` itself, or its aclImdb/ (also under the dataset's subdir), if it has train/pos."""
    subdir = Path(*get_dataset_entry("imdb").subdir.split("/"))
    for candidate in (root, root / "aclImdb", root / subdir / "aclImdb", root / subdir.name / "aclImdb"):
        if (candidate / "train" / "pos").is_dir():
            return candidate
    return None


def _load_acl_imdb(folder: Path, encoding: str) -> TextData:
    splits = {}
    for split in IMDB_FILES:
        texts: list[str] = []
        labels: list[int] = []
        for label, polarity in ((0, "neg"), (1, "pos")):
            directory = folder / split / polarity
            files = sorted(directory.glob("*.txt"), key=_acl_order) if directory.is_dir() else []
            if not files:
                raise DatasetUnavailable(
                    f"the aclImdb folder {folder} has no reviews in {directory} (expected "
                    f"{split}/{polarity}/<id>_<rating>.txt files). Unpack the whole "
                    "aclImdb_v1.tar.gz there."
                )
            decoded = [_decode(f.read_bytes(), encoding, str(f)) for f in files]
            blank = [f.name for f, t in zip(files, decoded) if not t.strip()]
            if blank:
                raise DataValidationError(
                    f"expected a review in every file of {directory}. Received "
                    f"{len(blank)} empty files: {_shown(blank)}. Delete them."
                )
            texts += decoded
            labels += [label] * len(files)
        splits[split] = check_texts_and_labels(texts, labels, where=str(folder / split))[:2]
    info = {
        "name": "imdb",
        "source": str(folder),
        "checksum_verified": False,
        "resolved_by": "aclImdb",
        "layout": "aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt",
        "encoding": encoding,
    }
    return _split_data(splits, list(TEXT_CLASS_NAMES), info)


def _acl_order(path: Path) -> tuple[int, str]:
    # By review id, as the CSV files are, so both layouts give the same order.
    match = _ACL_ID_RE.match(path.name)
    return (int(match.group(1)) if match else -1, path.name)


def _tfds_dir() -> Path:
    return default_cache_dir() / "tensorflow_datasets"


def _load_imdb_tfds(encoding: str) -> TextData:
    try:
        import tensorflow_datasets as tfds  # heavy, and only for this fallback
    except ImportError as err:
        raise DatasetUnavailable(
            f"tensorflow_datasets is not installed ({err}); pip install tensorflow-datasets, or place the files."
        ) from err
    splits = {}
    try:
        for split in IMDB_FILES:
            texts, labels = tfds.as_numpy(
                tfds.load(IMDB_TFDS_NAME, split=split, as_supervised=True, batch_size=-1, data_dir=str(_tfds_dir()))
            )
            splits[split] = (texts, labels)
    except Exception as err:  # tfds raises many types (network, build, checksum)
        raise DatasetUnavailable(
            f"tensorflow_datasets could not load {IMDB_TFDS_NAME!r}: {type(err).__name__}: {err}"
        ) from err
    checked = {}
    for split, (texts, labels) in splits.items():
        decoded = [
            t if isinstance(t, str) else _decode(bytes(t), encoding, f"tfds {IMDB_TFDS_NAME} {split}") for t in texts
        ]
        checked[split] = check_texts_and_labels(
            decoded, np.asarray(labels).tolist(), where=f"tfds {IMDB_TFDS_NAME} {split}"
        )[:2]
    info = {
        "name": "imdb",
        "source": f"tensorflow_datasets:{IMDB_TFDS_NAME} ({_tfds_dir()})",
        "checksum_verified": False,
        "resolved_by": "tensorflow_datasets",
        "note": "tfds checks its own download; the manifest's checksums do not apply",
    }
    return _split_data(checked, list(TEXT_CLASS_NAMES), info)


def _split_data(
    splits: dict[str, tuple[np.ndarray, np.ndarray]], class_names: list[str], info: dict[str, Any]
) -> TextData:
    info = {
        **info,
        "splits": {s: len(y) for s, (_, y) in splits.items()},
        "class_counts": {s: _counts(y) for s, (_, y) in splits.items()},
    }
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    return TextData(x_train, y_train, x_test, y_test, class_names=class_names, info=info)
