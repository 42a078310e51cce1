"""The boundary check of every text reader: texts are non-empty `str`, labels binary.

`check_texts_and_labels` checks texts and their 0/1 labels (or two class names), and
`check_texts` texts alone. Each problem raises `DataValidationError` naming how many
examples have it, the first offsets and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.text.data import TEXT_CLASS_NAMES

__all__ = ["check_texts", "check_texts_and_labels"]


# Positions named in an error message; more would bury the message.
MAX_SHOWN = 5


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
    # A lone surrogate (e.g. from decoding with errors="surrogateescape") is a str but not
    # Unicode text: it cannot be encoded, so TensorFlow and every file writer fail on it.
    invalid = [i for i, t in enumerate(x) if not _encodable(t)]
    if invalid:
        raise DataValidationError(
            f"expected valid Unicode text in {where}. Received {len(invalid)} texts with lone surrogate code "
            f"points (not encodable as UTF-8), e.g. {_short(x[invalid[0]])} at {position} {_shown(invalid)}. "
            "Decode the source bytes with their real encoding, or drop those examples."
        )
    blank = [i for i, t in enumerate(x) if not t.strip()]
    if blank:
        raise DataValidationError(
            f"expected non-empty texts. Received {len(blank)} empty or whitespace-only "
            f"texts in {where}, at {position} {_shown(blank)}. Drop those examples (with "
            "their labels) first."
        )
    return x


# ----------------------------------------------------------------------------- helpers


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


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
