"""The `Report` of one run: its content, added section by section, and writing it to disk.

`write` saves the figures, the predictions, and `report.json` (from `to_dict`),
`report.md` (`pipelines.evaluation.report.markdown`) and `report.html`
(`pipelines.evaluation.report.html`), each atomically.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pipelines import atomic
from pipelines.errors import OutputDirError
from pipelines.evaluation.report.html import to_html
from pipelines.evaluation.report.markdown import to_markdown
from pipelines.evaluation.report.records import _FigureEntry, _json_safe, _Table, _Text

__all__ = ["Report", "STATUSES", "PREDICTIONS_FILE", "PNG_SIGNATURE"]

STATUSES = ("ok", "failed")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FIGURE_NAME = re.compile(r"^[a-z0-9_]+$")
PREDICTIONS_FILE = "predictions.npz"
_FIXED_KEYS = (
    "pipeline",
    "status",
    "dataset",
    "config",
    "metrics",
    "history",
    "timings",
    "environment",
    "tables",
    "figures",
)


class Report:
    """The results of one pipeline run, rendered to `report.{json,md,html}` and PNGs.

    The plain attributes may be assigned or updated directly; content sections (tables,
    figures, text) go through the `add_*` methods, which validate them and keep their
    order.

    Args:
        pipeline: The pipeline's registered name.
        dataset: Name, source, split sizes, whether checksums were verified, ...
            Defaults to an empty dict.
        config: The resolved configuration. Defaults to an empty dict.
        environment: Library versions, device, seed, ... Defaults to an empty dict.

    Attributes:
        metrics: Metric name to a finite float or `None` (undefined), in insertion order.
        history: A Keras `History.history`, metric name to one value per epoch.
        timings: Stage name to seconds.
        status: `"ok"` or `"failed"`.
        title: The page's heading and HTML title. Defaults to `"<pipeline> report"`.
        extra: Additional JSON data merged into the top level of `to_dict()`; its keys
            must not collide with the fixed keys.

    Example:
        >>> report = Report("demo", dataset={"name": "toy"})
        >>> report.add_metrics({"accuracy": 0.5, "loss": float("nan")})
        >>> report.to_dict()["metrics"]
        {'accuracy': 0.5, 'loss': None}
    """

    def __init__(
        self,
        pipeline: str,
        *,
        dataset: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.title = f"{pipeline} report"
        self.dataset: dict[str, Any] = dict(dataset or {})
        self.config: dict[str, Any] = dict(config or {})
        self.environment: dict[str, Any] = dict(environment or {})
        self.metrics: dict[str, float | None] = {}
        self.history: dict[str, list[float]] = {}
        self.timings: dict[str, float] = {}
        self.status = "ok"
        self.extra: dict[str, Any] = {}
        self._sections: list[_Table | _FigureEntry | _Text] = []
        self._predictions: dict[str, Any] = {}

    def add_metrics(self, metrics: Mapping[str, float | None]) -> None:
        """Adds (or overwrites) metrics.

        NaN and infinity become `None`: an undefined metric (such as the ROC AUC of a
        class missing from the test set) is recorded as such, not as a number.

        Args:
            metrics: Metric name to a real number (Python or NumPy) or `None`.

        Raises:
            TypeError: If a name is not a string or a value is not a real number
                (booleans and strings included).
        """
        converted: dict[str, float | None] = {}
        for name, value in metrics.items():
            if not isinstance(name, str):
                raise TypeError(f"expected a string metric name. Received: {name!r}")
            if value is None:
                converted[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"expected a real number or None for metric {name!r}. "
                    f"Received: {value!r} of type {type(value).__name__}."
                )
            value = float(value)
            converted[name] = value if math.isfinite(value) else None
        self.metrics.update(converted)

    def add_table(
        self,
        title: str,
        rows: Sequence[Mapping[str, object]],
        *,
        columns: Sequence[str] | None = None,
        note: str = "",
    ) -> None:
        """Adds a table section.

        Args:
            title: The section title; unique among tables, as `to_dict()` keys on it.
            rows: One mapping per row, column name to cell value.
            columns: Columns to show, in order. Defaults to every key of `rows`, in
                order of first appearance.
            note: A line shown under the title. Defaults to `""`.

        Raises:
            ValueError: If the title is empty or already used by a table.
            TypeError: If a row is not a mapping.
        """
        self._check_title(title)
        if any(isinstance(s, _Table) and s.title == title for s in self._sections):
            raise ValueError(f"expected a new table title. Received a duplicate: {title!r}")
        copied = []
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise TypeError(f"expected each row to be a mapping. Received: rows[{i}]={row!r}")
            copied.append(dict(row))
        if columns is None:
            columns = list(dict.fromkeys(key for row in copied for key in row))
        self._sections.append(_Table(title, copied, [str(c) for c in columns], note))

    def add_figure(self, name: str, fig_or_png: Figure | bytes, *, title: str, caption: str = "") -> None:
        """Adds a figure section, saved as `<name>.png`.

        A matplotlib figure is rendered at 100 dpi and closed.

        Args:
            name: File stem, matching `^[a-z0-9_]+$` and unique in the report.
            fig_or_png: A matplotlib `Figure` or PNG bytes.
            title: The section title, also the image's alt text.
            caption: A line under the image. Defaults to `""`.

        Raises:
            ValueError: If the name is malformed or taken, or the bytes are not a PNG.
            TypeError: If `fig_or_png` is neither a Figure nor bytes.
        """
        if not isinstance(name, str) or not _FIGURE_NAME.fullmatch(name):
            raise ValueError(
                "expected a figure name of lowercase letters, digits and underscores "
                f"(^[a-z0-9_]+$). Received: name={name!r}"
            )
        if any(isinstance(s, _FigureEntry) and s.name == name for s in self._sections):
            raise ValueError(f"expected a new figure name. Received a duplicate: {name!r}")
        self._check_title(title)
        if isinstance(fig_or_png, Figure):
            # Imported here so that a report without figures never loads pyplot.
            from pipelines.evaluation.plots import figure_to_png

            png = figure_to_png(fig_or_png)
        elif isinstance(fig_or_png, (bytes, bytearray)):
            png = bytes(fig_or_png)
            if not png.startswith(PNG_SIGNATURE):
                raise ValueError(f"expected PNG bytes for figure {name!r}. Received bytes starting with {png[:8]!r}.")
        else:
            raise TypeError(f"expected a matplotlib Figure or PNG bytes. Received: {type(fig_or_png).__name__}")
        self._sections.append(_FigureEntry(name, title, caption, png))

    def add_predictions(self, kind: str, **arrays: Any) -> None:
        """Attaches the test-set arrays that `pipelines compare` needs, saved as `predictions.npz`.

        Written (compressed, atomically) beside the report by `write`; `to_dict()` names
        the file, its kind and its arrays under `predictions`. A second call replaces the
        first.

        Args:
            kind: What the arrays describe: `"classification"`, `"regression"` or
                `"denoising"` (see `pipelines.evaluation.compare`).
            **arrays: Name to a NumPy array (or anything `np.asarray` takes).

        Raises:
            ValueError: If `kind` is empty or no array is given.

        Example:
            >>> report = Report("demo")
            >>> report.add_predictions("regression", y_true=[1.0, 2.0], y_pred=[1.5, 2.0])
            >>> report.to_dict()["predictions"]["arrays"]
            ['y_true', 'y_pred']
        """
        if not kind or not arrays:
            raise ValueError(
                f"expected a kind and at least one array. Received: kind={kind!r}, arrays={sorted(arrays)}"
            )
        import numpy as np

        self._predictions = {"kind": np.asarray(kind), **{k: np.asarray(v) for k, v in arrays.items()}}
        self.extra["predictions"] = {"file": PREDICTIONS_FILE, "kind": kind, "arrays": list(arrays)}

    def add_text(self, title: str, markdown_text: str) -> None:
        """Adds a free-text section, written as-is into Markdown and escaped in HTML.

        Args:
            title: The section title.
            markdown_text: The body.

        Raises:
            ValueError: If the title is empty.
        """
        self._check_title(title)
        self._sections.append(_Text(title, str(markdown_text)))

    def to_dict(self) -> dict[str, Any]:
        """Returns the report as plain JSON-able data.

        NaN and infinities anywhere become `None`; NumPy values become Python ones.

        Returns:
            A dict with keys `pipeline`, `status`, `dataset`, `config`, `metrics`,
            `history`, `timings`, `environment`, `tables` (title to rows), `figures`
            (file names), then the keys of `extra`.

        Raises:
            ValueError: If `status` is unknown or an `extra` key collides with a fixed key.
        """
        if self.status not in STATUSES:
            raise ValueError(f"expected status in {STATUSES}. Received: status={self.status!r}")
        clashes = sorted(set(self.extra) & set(_FIXED_KEYS))
        if clashes:
            raise ValueError(f"expected `extra` keys other than the fixed keys. Received: {clashes}. Rename them.")
        data = {
            "pipeline": self.pipeline,
            "status": self.status,
            "dataset": self.dataset,
            "config": self.config,
            "metrics": self.metrics,
            "history": self.history,
            "timings": self.timings,
            "environment": self.environment,
            "tables": {t.title: t.rows for t in self._sections if isinstance(t, _Table)},
            "figures": [f.filename for f in self._figures()],
            **self.extra,
        }
        return _json_safe(data)

    def to_json(self) -> str:
        """Returns `to_dict()` as strict JSON (no NaN), indented by 2."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False)

    def render_markdown(self) -> str:
        """Renders the report as Markdown; figures link to `<name>.png` beside it."""
        return to_markdown(self)

    def render_html(self) -> str:
        """Renders the report as one self-contained HTML page.

        The CSS is inline and every figure is embedded as a base64 `data:` URI; a
        Content-Security-Policy forbids loading anything else.
        """
        return to_html(self)

    def write(self, directory: str | os.PathLike, *, stem: str = "report") -> dict[str, Path]:
        """Writes every figure PNG, `<stem>.json`, `<stem>.md`, `<stem>.html` and the predictions.

        Each file is written atomically: a reader never sees a partial file.

        Args:
            directory: Created if missing.
            stem: File name stem of the three documents. Defaults to `"report"`.

        Returns:
            File name to the path written.

        Raises:
            OutputDirError: If the directory cannot be created or written.
        """
        directory = Path(directory)
        # Render before touching the disk, so a bad report writes nothing.
        documents = {
            f"{stem}.json": self.to_json() + "\n",
            f"{stem}.md": self.render_markdown(),
            f"{stem}.html": self.render_html(),
        }
        predictions = _npz_bytes(self._predictions) if self._predictions else None
        written: dict[str, Path] = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for entry in self._figures():
                written[entry.filename] = atomic.write_bytes(directory / entry.filename, entry.png)
            if predictions is not None:
                written[PREDICTIONS_FILE] = atomic.write_bytes(directory / PREDICTIONS_FILE, predictions)
            for filename, text in documents.items():
                written[filename] = atomic.write_text(directory / filename, text)
        except OSError as exc:
            raise OutputDirError(
                f"expected a writable output directory. Received: {str(directory)!r} "
                f"({exc.strerror or exc}). Pass another output directory."
            ) from exc
        return written

    def _figures(self) -> list[_FigureEntry]:
        return [s for s in self._sections if isinstance(s, _FigureEntry)]

    @staticmethod
    def _check_title(title: str) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"expected a non-empty title. Received: title={title!r}")


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
