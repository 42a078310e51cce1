"""The index page of every run under a reports directory: `pipelines reports [DIR]`.

It finds each `report.json` below the directory and lists the run's pipeline, date,
dataset, headline metric (with its bootstrap interval when the run has one), status and
a link to its `report.html`, newest first. The page is `index.html` (with `index.md` and
`index.json`) in the directory itself, written atomically like every report.

A pipeline names its headline metric in `report.json` as `headline_metric` (the shared
classifier report says `accuracy`, the regressor `cv_r2_mean`, the denoiser
`psnr_denoised`); a new pipeline such as `dcgan` sets `report.extra["headline_metric"]`
and is listed without any change here. A report without one shows its first metric.

Usage (a folder of finished runs):

    write_index("reports")  # PosixPath('reports/index.html')
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from pipelines.errors import OutputDirError
from pipelines.evaluation.report import Link, Report, ci_keys

__all__ = ["find_runs", "index_rows", "write_index"]

INDEX_STEM = "index"


def find_runs(directory: str | os.PathLike) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable `report.json` below `directory`, with its content, sorted by path.

    A file that is not valid JSON (a report being replaced is never partial, but a
    hand-edited one may be) is listed with status `unreadable` rather than hidden.
    """
    runs = []
    for path in sorted(Path(directory).rglob("report.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            data = {"status": "unreadable", "pipeline": "?", "error": str(exc)}
        runs.append((path.parent, data))
    return runs


def index_rows(directory: str | os.PathLike) -> list[dict[str, Any]]:
    """One row per run below `directory`, newest first (see the module docstring).

    Example:
        >>> import tempfile; d = Path(tempfile.mkdtemp())
        >>> r = Report("demo", dataset={"name": "toy"}); r.add_metrics({"accuracy": 0.5})
        >>> _ = r.write(d / "run1")
        >>> row = index_rows(d)[0]
        >>> row["pipeline"], row["dataset"], row["headline"]
        ('demo', 'toy', 'accuracy = 0.5000')
    """
    directory = Path(directory)
    rows = []
    for run_dir, data in find_runs(directory):
        link = Link(
            run_dir.relative_to(directory).as_posix(), (run_dir / "report.html").relative_to(directory).as_posix()
        )
        try:
            created, source = _created(run_dir, data)
            row = {
                "run": link,
                "pipeline": data.get("pipeline", "?"),
                "date (UTC)": created,
                "dataset": (data.get("dataset") or {}).get("name", ""),
                "headline": _headline(data),
                "status": data.get("status", "?"),
                "_sort": source,
            }
        except (AttributeError, TypeError, ValueError) as exc:
            # Valid JSON of the wrong shape (a hand-edited "accuracy": "high"): listed, never fatal.
            mtime = (run_dir / "report.json").stat().st_mtime
            row = {"run": link, "pipeline": "?", "date (UTC)": "", "dataset": "", "headline": "",
                   "status": f"unreadable ({type(exc).__name__}: {exc})", "_sort": mtime}  # fmt: skip
        rows.append(row)
    rows.sort(key=lambda row: row.pop("_sort"), reverse=True)
    return rows


def write_index(directory: str | os.PathLike = "reports") -> Path:
    """Writes `index.html` (and `.md`, `.json`) listing every run under `directory`.

    Returns:
        The path of `index.html`.

    Raises:
        OutputDirError: `directory` does not exist or cannot be written.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise OutputDirError(
            f"expected a reports directory. Received: {str(directory)!r}, which is not a "
            "directory. Pass the folder holding the runs (default: reports)."
        )
    rows = index_rows(directory)
    report = Report("index")
    report.title = f"Runs under {directory.resolve()}"
    report.extra["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    report.add_table(
        f"Runs ({len(rows)})",
        rows,
        note="Newest first. Headline: the pipeline's main metric with its bootstrap 95% interval "
        "when the run has one. Dates are the runs' start times, else the report file's.",
    )
    return report.write(directory, stem=INDEX_STEM)[f"{INDEX_STEM}.html"]


def _created(run_dir: Path, data: dict[str, Any]) -> tuple[str, float]:
    """The run's start (from `created`) or, for older reports, the report file's time."""
    text = data.get("created")
    if isinstance(text, str):
        try:
            when = _dt.datetime.fromisoformat(text)
            return when.strftime("%Y-%m-%d %H:%M"), when.timestamp()
        except ValueError:
            pass
    mtime = (run_dir / "report.json").stat().st_mtime
    when = _dt.datetime.fromtimestamp(mtime, _dt.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M") + " (file)", mtime


def _headline(data: dict[str, Any]) -> str:
    metrics = data.get("metrics") or {}
    name = data.get("headline_metric")
    if name not in metrics:
        name = next(iter(metrics), None)
    if name is None or metrics.get(name) is None:
        return ""
    text = f"{name} = {metrics[name]:.4f}"
    low, high = (metrics.get(k) for k in ci_keys(name))
    if low is not None and high is not None:
        text += f" [{low:.4f}, {high:.4f}]"
    return text
