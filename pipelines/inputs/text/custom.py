"""The user's own texts and labels: `load_custom` (in memory) and `load_csv` (a CSV file).

Both check the data with `check_texts_and_labels` and return a `TextData` without a test
split (`texts_test=None`): cross-validate, or split it yourself.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.errors import DatasetUnavailable, DataValidationError
from pipelines.inputs.text.checks import _counts, check_texts_and_labels
from pipelines.inputs.text.data import TextData
from pipelines.inputs.text.decoding import _check_encoding, _decode, _parse_csv, _require_columns

__all__ = ["load_csv", "load_custom"]


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
