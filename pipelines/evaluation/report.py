"""The run report shared by every pipeline: one object, written as JSON, Markdown and HTML.

A pipeline fills a `Report` (metrics, tables, figures, text) and calls `write`. The
Markdown and the HTML are rendered from the same list of blocks, so they always carry
the same content; the HTML is a single self-contained file that loads nothing from the
network.
"""

from __future__ import annotations

import base64
import dataclasses
import html
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

__all__ = ["Report", "Link", "STATUSES", "PREDICTIONS_FILE", "ci_keys"]

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
        out: list[str] = []
        for kind, *args in self._blocks():
            if kind == "h1":
                out += [f"# {args[0]}", ""]
            elif kind == "h2":
                out += [f"## {args[0]}", ""]
            elif kind == "p":
                out += [args[0], ""]
            elif kind == "kv":
                out += [f"- **{key}:** {value}" for key, value in args[0]] + [""]
            elif kind == "table":
                columns, rows = args
                out.append("| " + " | ".join(_md_cell(c) for c in columns) + " |")
                out.append("|" + "---|" * len(columns))
                out += ["| " + " | ".join(_md_link_or_cell(c) for c in row) + " |" for row in rows]
                out.append("")
            elif kind == "figure":
                entry = args[0]
                alt = entry.title.replace("[", "\\[").replace("]", "\\]")
                out += [f"![{alt}]({entry.filename})", ""]
                if entry.caption:
                    out += [f"*{entry.caption}*", ""]
            elif kind == "text":
                out += [args[0].strip(), ""]
        return "\n".join(out).rstrip() + "\n"

    def render_html(self) -> str:
        """Renders the report as one self-contained HTML page.

        The CSS is inline and every figure is embedded as a base64 `data:` URI; a
        Content-Security-Policy forbids loading anything else.
        """
        esc = html.escape
        body: list[str] = []
        for kind, *args in self._blocks():
            if kind == "h1":
                body.append(f"<h1>{esc(args[0])}</h1>")
            elif kind == "h2":
                body.append(f"<h2>{esc(args[0])}</h2>")
            elif kind == "p":
                body.append(f"<p>{esc(args[0])}</p>")
            elif kind == "kv":
                items = "".join(f"<li><strong>{esc(key)}:</strong> {esc(value)}</li>" for key, value in args[0])
                body.append(f"<ul>{items}</ul>")
            elif kind == "table":
                columns, rows = args
                head = "".join(f"<th>{esc(c)}</th>" for c in columns)
                cells = "".join("<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
            elif kind == "figure":
                entry = args[0]
                data = base64.b64encode(entry.png).decode("ascii")
                caption = f"<figcaption>{esc(entry.caption)}</figcaption>" if entry.caption else ""
                body.append(
                    f'<figure><img src="data:image/png;base64,{data}" alt="{esc(entry.title)}">{caption}</figure>'
                )
            elif kind == "text":
                body.append(f'<div class="text">{esc(args[0].strip())}</div>')
        # Concatenated, not str.format-ed: the CSS is full of braces.
        return _HTML_HEAD.replace("$title", esc(self.title)) + "\n".join(body) + "\n</body>\n</html>\n"

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

    def _blocks(self) -> list[tuple]:
        """The report as a flat list of blocks that both renderers walk in order."""
        blocks: list[tuple] = [
            ("h1", self.title),
            ("kv", [("Status", self.status)]),
        ]
        if self.dataset:
            blocks += [("h2", "Dataset"), ("kv", _flat_items(self.dataset))]
        if self.metrics:
            blocks += [("h2", "Metrics"), ("table", *self._metrics_table())]
        for section in self._sections:
            blocks.append(("h2", section.title))
            if isinstance(section, _Table):
                if section.note:
                    blocks.append(("p", section.note))
                rows = [[_format_cell(row.get(c, "")) for c in section.columns] for row in section.rows]
                blocks.append(("table", section.columns, rows))
            elif isinstance(section, _FigureEntry):
                blocks.append(("figure", section))
            else:
                blocks.append(("text", section.markdown))
        # Results first; the settings that produced them follow.
        if self.config:
            blocks += [("h2", "Configuration"), ("kv", _flat_items(self.config))]
        if self.timings:
            timing_rows = [(name, _format_value(v)) for name, v in self.timings.items()]
            blocks += [("h2", "Timings"), ("table", ["stage", "seconds"], timing_rows)]
        if self.environment:
            blocks += [("h2", "Environment"), ("kv", _flat_items(self.environment))]
        return blocks

    def _metrics_table(self) -> tuple[list[str], list[list[Any]]]:
        """Metric rows; a metric with `<name>_ci_low/_ci_high` shows them in a CI column."""
        with_ci = {name for name in self.metrics if all(k in self.metrics for k in ci_keys(name))}
        if not with_ci:
            return ["metric", "value"], [[name, _format_value(v)] for name, v in self.metrics.items()]
        hidden = {key for name in with_ci for key in ci_keys(name)}
        rows = []
        for name, value in self.metrics.items():
            if name in hidden:
                continue
            ci = ""
            if name in with_ci:
                low, high = (self.metrics[k] for k in ci_keys(name))
                ci = f"[{_format_value(low)}, {_format_value(high)}]"
            rows.append([name, _format_value(value), ci])
        return ["metric", "value", "95% CI (bootstrap)"], rows

    @staticmethod
    def _check_title(title: str) -> None:
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"expected a non-empty title. Received: title={title!r}")


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


def _format_value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            return "n/a"
        # 4 decimals, but keep 4 significant digits of tiny or huge values.
        if value != 0 and not 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}"
        text = f"{value:.4f}"
        # Near-perfect scores (AUC 0.99998) must not print as a perfect 1.0000.
        if abs(value) != 1.0 and abs(float(text)) == 1.0:
            text = f"{value:.6f}"
        return text
    return str(value)


def _format_cell(value: Any) -> Any:
    return value if isinstance(value, Link) else _format_value(value)


def _md_link_or_cell(cell: Any) -> str:
    if isinstance(cell, Link):
        text = cell.text.replace("[", "\\[").replace("]", "\\]")
        return f"[{_md_cell(text)}](<{cell.href}>)"
    return _md_cell(cell)


def _html_cell(cell: Any) -> str:
    if isinstance(cell, Link):
        return f'<a href="{html.escape(cell.href)}">{html.escape(cell.text)}</a>'
    return html.escape(cell)


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _flat_items(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flattens nested mappings to `a.b` keys, with values printed in full."""
    # Not rounded like metrics: a learning rate of 3e-4 must not print as 0.0003.
    items: list[tuple[str, str]] = []
    for key, value in _json_safe(data).items():
        if isinstance(value, dict) and value:
            items += [(f"{key}.{k}", v) for k, v in _flat_items(value)]
        elif isinstance(value, list):
            items.append((key, ", ".join(_plain(v) for v in value)))
        else:
            items.append((key, _plain(value)))
    return items


def _plain(value: Any) -> str:
    return "n/a" if value is None else str(value)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5;
  color: #1f2328; background: #fff; }
h1 { font-size: 1.8rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #eaeef2;
  padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .7rem; text-align: left; }
th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #f9fafb; }
td { font-variant-numeric: tabular-nums; }
ul { padding-left: 1.2rem; }
figure { margin: 1rem 0; }
img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
a { color: #0969da; }
figcaption { font-size: .9rem; color: #57606a; font-style: italic; }
.text { white-space: pre-wrap; }
""".strip()

_HTML_HEAD = (
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" """
    """content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>$title</title>
<style>
"""
    + _CSS
    + """
</style>
</head>
<body>
"""
)
