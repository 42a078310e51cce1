"""What a report is made of: linked table cells, CI metric keys, section records, JSON values.

`Report` keeps its tables, figures and text as the records below, in the order they
were added; `_json_safe` turns anything a report holds into plain JSON-able data.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = ["Link", "ci_keys"]


@dataclasses.dataclass(frozen=True)
class Link:
    """A table cell that links to `href` (a relative path or a URL) under `text`.

    Rendered as `[text](href)` in Markdown and `<a href>` in HTML; in JSON it is
    `{"text": ..., "href": ...}`. Links are followed only when clicked, so a report with
    links still loads nothing from the network.

    Example:
        >>> Link("logs", "tensorboard/").href
        'tensorboard/'
    """

    text: str
    href: str


def ci_keys(name: str) -> tuple[str, str]:
    """The flat-metric names of `name`'s confidence interval.

    Example:
        >>> ci_keys("accuracy")
        ('accuracy_ci_low', 'accuracy_ci_high')
    """
    return f"{name}_ci_low", f"{name}_ci_high"


@dataclasses.dataclass(frozen=True)
class _Table:
    title: str
    rows: list[dict[str, Any]]
    columns: list[str]
    note: str


@dataclasses.dataclass(frozen=True)
class _FigureEntry:
    name: str
    title: str
    caption: str
    png: bytes

    @property
    def filename(self) -> str:
        return f"{self.name}.png"


@dataclasses.dataclass(frozen=True)
class _Text:
    title: str
    markdown: str


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return _json_safe(value.tolist())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    # Paths, dtypes, enums...: a report is for reading, so their text form is the value.
    return str(value)
