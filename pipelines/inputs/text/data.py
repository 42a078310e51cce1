"""`TextData`: the texts and 0/1 labels every text reader returns."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["TEXT_CLASS_NAMES", "TextData"]


TEXT_CLASS_NAMES = ["negative", "positive"]


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
