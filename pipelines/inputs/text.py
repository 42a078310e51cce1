"""Readers of binary sentiment data: IMDB, MR (sentence polarity) and the user's own texts.

Every reader returns a `TextData` whose texts and labels passed one check
(`check_texts_and_labels`): every text is a non-empty `str`, there is one label per
text, each label is 0/1 (or one of two given class names), and both classes occur.
Problems raise `DataValidationError` naming the file, line or index and the fix.

- `load_imdb`: Maas et al. 2011, 25k train / 25k test reviews. The CSV files of the
  manifest (checksums verified), else an `aclImdb/` folder, else (online only)
  `tensorflow_datasets`' `imdb_reviews`; `info["resolved_by"]` says which.
- `load_mr`: Pang & Lee 2005 sentence polarity, 5,331 + 5,331 snippets, Latin-1. It has
  no standard split (`texts_test` is `None`): evaluate with stratified 10-fold CV.
- `load_custom`, `load_csv`: the user's texts and labels.

IMDB reviews contain HTML line breaks (`<br />`); `strip_html` (and the same
`HTML_TAG_PATTERN` in the tf.data step) replaces tags by a space.

Example:
    >>> data = load_custom(["a fine film", "dull"], [1, 0])
    >>> data.y_train.tolist(), data.class_names, data.texts_test is None
    ([1, 0], ['negative', 'positive'], True)
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DatasetUnavailable, DataValidationError
from pipelines.inputs.manifest import get_dataset_entry
from pipelines.inputs.sources import (
    DATA_DIR_ENV,
    OFFLINE_ENV,
    default_cache_dir,
    is_offline,
    read_verified,
    resolve_dataset,
)

__all__ = [
    "HTML_TAG_PATTERN",
    "IMDB_FILES",
    "MR_FILES",
    "TEXT_CLASS_NAMES",
    "TextData",
    "check_texts",
    "check_texts_and_labels",
    "load_csv",
    "load_custom",
    "load_imdb",
    "load_mr",
    "strip_html",
]

TEXT_CLASS_NAMES = ["negative", "positive"]
# split -> file of the manifest's `imdb` dataset (columns text,label; 1 = positive).
IMDB_FILES = {"train": "train.csv.gz", "test": "test.csv.gz"}
# label -> file of the manifest's `sentiment_mr` dataset.
MR_FILES = {0: "rt-polarity.neg", 1: "rt-polarity.pos"}
MR_ENCODING = "latin-1"
IMDB_TFDS_NAME = "imdb_reviews"
# An HTML tag: `<`, a letter (so "a < b" and "<3" survive), anything but brackets, `>`.
# Written for both Python's `re` and TensorFlow's RE2, which the tf.data step uses.
HTML_TAG_PATTERN = r"</?[A-Za-z][^<>]*>"
_HTML_TAG_RE = re.compile(HTML_TAG_PATTERN)
# Positions named in an error message; more would bury the message.
MAX_SHOWN = 5
_ACL_ID_RE = re.compile(r"^(\d+)_(\d+)\.txt$")

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TextData:
    """Texts and 0/1 labels of a train (and possibly test) split.

    Attributes:
        texts_train: The training texts, a 1-D object array of `str`.
        y_train: int64 labels, `(n,)`: 0 = `class_names[0]`, 1 = `class_names[1]`.
        texts_test: The test texts, or `None` when the data has no standard split (MR,
            the user's data): evaluate those with cross-validation.
        y_test: int64 test labels, or `None`.
        class_names: The names of labels 0 and 1.
        info: `name`, `source` (folder, file or origin), `splits` ({"train": n, ...}),
            `class_counts` ({"train": [n0, n1], ...}), `checksum_verified`,
            `resolved_by` (the rule or layout that found the data) and, by reader,
            `files`, `encoding` or `evaluation`.
    """

    texts_train: np.ndarray
    y_train: np.ndarray
    texts_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: list[str]
    info: dict[str, Any]


def strip_html(text: str) -> str:
    """Replaces each HTML tag (IMDB's `<br />`, `<i>`) by a space.

    Args:
        text: One text.

    Returns:
        The text without tags; a space keeps the words on either side apart.

    Example:
        >>> strip_html("Great.<br /><br />A <i>must</i> see, 5 < 7 <3")
        'Great.  A  must  see, 5 < 7 <3'
    """
    return _HTML_TAG_RE.sub(" ", text)


# ----------------------------------------------------------------------------- readers


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


def load_mr(
    data_dir: str | os.PathLike | None = None,
    *,
    encoding: str = MR_ENCODING,
    download: bool = True,
) -> TextData:
    """Loads MR, the sentence polarity dataset v1.0 (Pang & Lee 2005; Kim 2014's "MR").

    `rt-polarity.neg` and `rt-polarity.pos` hold one lowercased, tokenized snippet per
    line (5,331 each), in Windows-1252/Latin-1: they are not valid UTF-8. The files are
    found by `resolve_dataset("sentiment_mr", ...)` and checked against the manifest.
    There is no standard test split, so `texts_test` is `None`: use stratified 10-fold
    cross-validation (`info["evaluation"]`).

    Args:
        data_dir: The folder holding both files, or a root holding `sentiment/`.
            Defaults to `None` (environment, cache, then download).
        encoding: How to decode the bytes. `"latin-1"` maps every byte to a character;
            `"cp1252"` turns the files' 0x85/0x91/0x92/0x96/0x97 into the intended
            ellipsis, quotes and dashes. Defaults to `"latin-1"`.
        download: Whether missing files may be downloaded into the cache. Defaults to
            `True`.

    Returns:
        A `TextData` with negatives (label 0) then positives (label 1) in `texts_train`.

    Raises:
        DatasetUnavailable: if the files are not found and cannot be downloaded.
        ChecksumMismatch: if a file does not match the manifest.
        DataValidationError: if a file cannot be decoded with `encoding` (naming the
            file and line) or has an empty line.

    Example:
        >>> import tempfile
        >>> try:
        ...     load_mr(tempfile.mkdtemp())
        ... except FileNotFoundError as err:
        ...     print("rt-polarity.pos" in str(err))
        True
    """
    _check_encoding(encoding)
    resolved = resolve_dataset("sentiment_mr", data_dir, download=download, verify=False)
    entry = get_dataset_entry("sentiment_mr")
    texts: list[str] = []
    labels: list[int] = []
    for label, file_name in MR_FILES.items():
        path = resolved.files[file_name]
        lines = _split_lines(_decode(read_verified(path, entry.file(file_name)), encoding, str(path)))
        blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if blank:
            raise DataValidationError(
                f"expected one non-empty snippet per line in {path}. Received "
                f"{len(blank)} empty or whitespace-only lines, at line {_shown(blank)}. "
                "Delete those lines (or replace the file with a good copy)."
            )
        texts += lines
        labels += [label] * len(lines)
    x, y, class_names = check_texts_and_labels(texts, labels, where="MR")
    info = {
        "name": "mr",
        "source": str(resolved.directory),
        "splits": {"train": len(y)},
        "class_counts": {"train": _counts(y)},
        "checksum_verified": True,
        "resolved_by": resolved.source,
        "files": {name: str(path) for name, path in resolved.files.items()},
        "encoding": encoding,
        "evaluation": "no standard split: use stratified 10-fold cross-validation",
    }
    return TextData(x, y, None, None, class_names=class_names, info=info)


def load_custom(
    texts: Sequence[str],
    labels: Sequence[Any],
    class_names: Sequence[str] | None = None,
) -> TextData:
    """Wraps the user's texts and labels as a `TextData` (no test split), checked.

    Args:
        texts: One `str` per example.
        labels: One label per text: 0/1, or one of `class_names`.
        class_names: The names of labels 0 and 1, e.g. `["neg", "pos"]`; labels may
            then be these names. Defaults to `["negative", "positive"]`.

    Returns:
        A `TextData` with `texts_test=None`: cross-validate, or split it yourself.

    Raises:
        TypeError: if `texts` is a single string.
        ConfigError: if `class_names` is not two distinct non-empty strings.
        DataValidationError: see `check_texts_and_labels`.

    Example:
        >>> data = load_custom(["great", "awful", "fine"], ["pos", "neg", "pos"],
        ...                    class_names=["neg", "pos"])
        >>> data.y_train.tolist(), data.info["class_counts"]
        ([1, 0, 1], {'train': [1, 2]})
    """
    x, y, names = check_texts_and_labels(texts, labels, class_names)
    info = {
        "name": "custom",
        "source": "in-memory texts and labels",
        "splits": {"train": len(y)},
        "class_counts": {"train": _counts(y)},
        "checksum_verified": False,
        "resolved_by": "argument",
    }
    return TextData(x, y, None, None, class_names=names, info=info)


def load_csv(
    path: str | os.PathLike,
    text_column: str,
    label_column: str,
    *,
    encoding: str = "utf-8",
    class_names: Sequence[str] | None = None,
) -> TextData:
    """Reads texts and labels from a CSV file with a header row (`.csv` or `.csv.gz`).

    Every column is read as text, so labels "0"/"1" and class names both work, and an
    empty cell stays an empty text (which is rejected) rather than becoming NaN.

    Args:
        path: The file; a name ending in `.gz` is decompressed first.
        text_column: The header of the text column.
        label_column: The header of the label column.
        encoding: The file's encoding. Defaults to `"utf-8"` (a leading byte-order
            mark is dropped).
        class_names: The names of labels 0 and 1, if the label column holds names.
            Defaults to `["negative", "positive"]`.

    Returns:
        A `TextData` with `texts_test=None`.

    Raises:
        DatasetUnavailable: if the file does not exist.
        ConfigError: if `encoding` is unknown or `class_names` is not two names.
        DataValidationError: if the file is empty, cannot be decoded (naming the line
            and byte), cannot be parsed, lacks a column, or fails
            `check_texts_and_labels` (naming the 0-based data rows).

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
        >>> _ = p.write_text("review,stars\\n\\"Loved it, truly\\",pos\\nMeh,neg\\n")
        >>> load_csv(p, "review", "stars", class_names=["neg", "pos"]).y_train.tolist()
        [1, 0]
    """
    _check_encoding(encoding)
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetUnavailable(f"no CSV file at {str(path)!r}. Pass the path of an existing file.")
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (gzip.BadGzipFile, EOFError, OSError) as err:
            raise DataValidationError(
                f"{path} ends in .gz but is not a complete gzip file ({err}). Pass the "
                "uncompressed file or a good copy."
            ) from err
    if not data.strip():
        raise DataValidationError(
            f"expected a CSV file with a header row and data rows. Received: {path} is "
            f"empty ({len(data)} bytes). Pass the file that holds the data."
        )
    text = _decode(data, encoding, str(path))
    frame = _parse_csv(text.removeprefix("\ufeff"), str(path))
    _require_columns(
        frame, [text_column, label_column], str(path), "Pass text_column= and label_column= naming columns of the file."
    )
    if len(frame) == 0:
        raise DataValidationError(
            f"expected data rows in {path}. Received only the header "
            f"{[str(c) for c in frame.columns]}. Pass a file that holds the data."
        )
    x, y, names = check_texts_and_labels(
        frame[text_column].to_numpy(dtype=object),
        frame[label_column].to_numpy(dtype=object),
        class_names,
        where=str(path),
        position="row",
    )
    info = {
        "name": "csv",
        "source": str(path),
        "splits": {"train": len(y)},
        "class_counts": {"train": _counts(y)},
        "checksum_verified": False,
        "resolved_by": "argument",
        "columns": {"text": text_column, "label": label_column},
        "encoding": encoding,
    }
    return TextData(x, y, None, None, class_names=names, info=info)


def check_texts_and_labels(
    texts: Sequence[str] | np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    where: str = "the data",
    position: str = "index",
    with_both_classes_check: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Checks texts and binary labels; the boundary check of every text reader.

    Checks, in order: `texts` is a sequence of `str`; none is empty or only whitespace;
    there is one label per text; each label is 0/1 (ints, integral floats, bools or the
    strings "0"/"1") or one of the two `class_names`; both classes occur.

    Args:
        texts: One `str` per example.
        labels: One label per example.
        class_names: The names of labels 0 and 1. Defaults to `["negative", "positive"]`.
        where: What the data is, for messages (a file name). Defaults to `"the data"`.
        position: What an offset is called in messages ("index", "row"). Defaults to
            `"index"`.
        with_both_classes_check: Reject labels of a single class (training data needs
            both; a set to predict or score may not). Defaults to `True`.

    Returns:
        `(texts, labels, class_names)`: a 1-D object array of `str`, int64 0/1 labels
        and the two class names.

    Raises:
        TypeError: if `texts` or `labels` is a single string.
        ConfigError: if `class_names` is not two distinct non-empty strings.
        DataValidationError: naming the first problem, how many examples have it, the
            first offsets and the fix.

    Example:
        >>> try:
        ...     check_texts_and_labels(["ok", " ", "fine"], [0, 1, 1])
        ... except ValueError as err:
        ...     print(str(err)[:61])
        expected non-empty texts. Received 1 empty or whitespace-only
    """
    names = _check_class_names(class_names)
    x = check_texts(texts, where=where, position=position)
    y_raw = _as_text_array(labels, "labels")
    if len(y_raw) != len(x):
        raise DataValidationError(
            f"expected one label per text in {where}. Received {len(x)} texts and "
            f"{len(y_raw)} labels. Pass lists of the same length."
        )
    y = np.array([_label_index(v, names if class_names is not None else None) for v in y_raw], dtype=np.int64)
    bad = np.flatnonzero(y < 0)
    if bad.size:
        allowed = "0/1" + (
            f" or one of class_names {names}" if class_names is not None else f" (0 = {names[0]}, 1 = {names[1]})"
        )
        distinct = list(dict.fromkeys(str(y_raw[i]) for i in bad))
        if class_names is None and len(distinct) == 2:
            fix = (
                f"Map them to 0/1, or pass class_names=[<label 0>, <label 1>], e.g. "
                f"class_names={sorted(distinct)!r} if {sorted(distinct)[0]!r} is "
                "class 0."
            )
        else:
            fix = "Fix or drop those examples."
        raise DataValidationError(
            f"expected labels {allowed} in {where}. Received {bad.size} other labels, "
            f"e.g. {_short(y_raw[bad[0]])} at {position} {_shown(bad.tolist())}. {fix}"
        )
    counts = _counts(y)
    if with_both_classes_check and min(counts) == 0:
        only = int(np.argmax(counts))
        raise DataValidationError(
            f"expected examples of both classes in {where}. Received only label {only} "
            f"({names[only]!r}) in all {len(y)} examples. A classifier needs both: add "
            f"examples of {names[1 - only]!r}."
        )
    return x, y, names


def check_texts(
    texts: Sequence[str] | np.ndarray,
    *,
    where: str = "the data",
    position: str = "index",
) -> np.ndarray:
    """Checks that `texts` is a sequence of non-empty `str`.

    Args:
        texts: One `str` per example.
        where: What the data is, for messages. Defaults to `"the data"`.
        position: What an offset is called in messages. Defaults to `"index"`.

    Returns:
        The texts as a 1-D object array of `str`.

    Raises:
        TypeError: if `texts` is a single string.
        DataValidationError: if a text is not a `str`, or is empty or only whitespace
            (saying how many and the first offsets).

    Example:
        >>> check_texts(["good", "bad"]).tolist()
        ['good', 'bad']
    """
    x = _as_text_array(texts, "texts")
    not_str = [i for i, t in enumerate(x) if not isinstance(t, str)]
    if not_str:
        first = x[not_str[0]]
        kind = (
            "bytes: decode them first, with their encoding"
            if isinstance(first, bytes)
            else "convert or drop them (a float NaN is usually a missing value)"
        )
        raise DataValidationError(
            f"expected every text in {where} to be a str. Received {len(not_str)} "
            f"values of other types, e.g. {_short(first)} ({type(first).__name__}) at "
            f"{position} {_shown(not_str)}; {kind}."
        )
    blank = [i for i, t in enumerate(x) if not t.strip()]
    if blank:
        raise DataValidationError(
            f"expected non-empty texts. Received {len(blank)} empty or whitespace-only "
            f"texts in {where}, at {position} {_shown(blank)}. Drop those examples (with "
            "their labels) first."
        )
    return x


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


# ----------------------------------------------------------------------------- helpers


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as err:
        raise ConfigError(
            f"unknown encoding. Received: encoding={encoding!r}. Pass a "
            "Python codec name such as 'utf-8', 'latin-1' or 'cp1252'."
        ) from err


def _decode(data: bytes, encoding: str, label: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataValidationError(
            f"{label} is not valid {encoding}: byte 0x{data[err.start]:02x} at line "
            f"{line}, column {column} cannot be decoded ({err.reason}). Pass encoding= "
            "the file's real encoding, e.g. encoding='latin-1' or encoding='cp1252' for "
            "Western European text."
        ) from err


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line: str.splitlines() would also split at U+0085, which is how
    # Latin-1 decodes the byte 0x85 (an ellipsis in cp1252) found inside MR snippets.
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _parse_csv(text: str, label: str) -> Any:
    import pandas as pd  # heavy; only CSV readers need it

    try:
        # dtype=str, no NA parsing: an empty cell stays "" and is reported as empty.
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        first = str(err).splitlines()[0] if str(err) else ""
        raise DataValidationError(
            f"expected a CSV file with a header row. Received: {label}, which pandas "
            f"cannot parse ({type(err).__name__}: {first}). Fix or re-export the "
            "file."
        ) from err


def _require_columns(frame: Any, columns: list[str], label: str, fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"expected columns {columns} in {label}. Received a table without {missing}; "
            f"its columns are {[str(c) for c in frame.columns]}. {fix}"
        )


def _check_class_names(class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return list(TEXT_CLASS_NAMES)
    names = [class_names] if isinstance(class_names, str) else list(class_names)
    if len(names) != 2 or not all(isinstance(n, str) and n for n in names) or names[0] == names[1]:
        raise ConfigError(
            "expected class_names to be two distinct non-empty strings, the names of "
            f"labels 0 and 1. Received: class_names={class_names!r}. Pass e.g. "
            "class_names=['negative', 'positive']."
        )
    return names


def _as_text_array(values: Any, what: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise TypeError(
            f"expected a sequence of {what}. Received a single "
            f"{type(values).__name__}: {_short(values)}. Wrap it in a list."
        )
    if hasattr(values, "to_numpy"):  # pandas: Arrow-backed strings index badly
        values = values.to_numpy(dtype=object)
    items = list(values)
    array = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):  # one by one: nested lists never broadcast
        array[i] = item
    return array


def _label_index(value: Any, class_names: list[str] | None) -> int:
    """0 or 1, or -1 for a label that is neither 0/1 nor a class name."""
    if class_names is not None and isinstance(value, str) and value in class_names:
        return class_names.index(value)
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value) if value in (0, 1) else -1
    if isinstance(value, (float, np.floating)):
        return int(value) if value in (0.0, 1.0) else -1
    if isinstance(value, str):
        stripped = value.strip()
        if class_names is not None and stripped in class_names:
            return class_names.index(stripped)
        return int(stripped) if stripped in ("0", "1") else -1
    return -1


def _counts(y: np.ndarray) -> list[int]:
    return np.bincount(y, minlength=2).tolist()


def _shown(items: Sequence[Any]) -> str:
    shown = [str(i) for i in items[:MAX_SHOWN]]
    more = len(items) - len(shown)
    return "[" + ", ".join(shown) + (f", ... {more} more" if more > 0 else "") + "]"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
