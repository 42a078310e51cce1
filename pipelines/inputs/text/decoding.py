"""Bytes of a text file into text or a table, with errors naming the file, line and byte.

Shared by the readers: `_check_encoding` (a codec name), `_decode` (bytes to `str`),
`_parse_csv` (a CSV with a header row, every cell a string) and `_require_columns`.
"""

from __future__ import annotations

import codecs
import io
from typing import Any

from pipelines.errors import ConfigError, DataValidationError

# Nothing public: the readers of `pipelines.inputs.text` use these helpers.
__all__: list[str] = []


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
