"""The reading order both renderers share: a report as a flat list of blocks.

`report_blocks` lays a `Report` out as `("h1", text)`, `("h2", text)`, `("p", text)`,
`("kv", pairs)`, `("table", columns, rows)`, `("figure", entry)` and `("text", body)`
blocks, with every value already formatted for reading. The Markdown and HTML renderers
walk the same list, so the two documents always carry the same content.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipelines.evaluation.report.records import Link, _FigureEntry, _json_safe, _Table, ci_keys

if TYPE_CHECKING:
    from pipelines.evaluation.report.core import Report

__all__ = ["report_blocks"]


def report_blocks(report: Report) -> list[tuple]:
    """The report as a flat list of blocks that both renderers walk in order."""
    blocks: list[tuple] = [
        ("h1", report.title),
        ("kv", [("Status", report.status)]),
    ]
    if report.dataset:
        blocks += [("h2", "Dataset"), ("kv", _flat_items(report.dataset))]
    if report.metrics:
        blocks += [("h2", "Metrics"), ("table", *_metrics_table(report))]
    for section in report._sections:
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
    if report.config:
        blocks += [("h2", "Configuration"), ("kv", _flat_items(report.config))]
    if report.timings:
        timing_rows = [(name, _format_value(v)) for name, v in report.timings.items()]
        blocks += [("h2", "Timings"), ("table", ["stage", "seconds"], timing_rows)]
    if report.environment:
        blocks += [("h2", "Environment"), ("kv", _flat_items(report.environment))]
    return blocks


def _metrics_table(report: Report) -> tuple[list[str], list[list[Any]]]:
    """Metric rows; a metric with `<name>_ci_low/_ci_high` shows them in a CI column."""
    with_ci = {name for name in report.metrics if all(k in report.metrics for k in ci_keys(name))}
    if not with_ci:
        return ["metric", "value"], [[name, _format_value(v)] for name, v in report.metrics.items()]
    hidden = {key for name in with_ci for key in ci_keys(name)}
    rows = []
    for name, value in report.metrics.items():
        if name in hidden:
            continue
        ci = ""
        if name in with_ci:
            low, high = (report.metrics[k] for k in ci_keys(name))
            ci = f"[{_format_value(low)}, {_format_value(high)}]"
        rows.append([name, _format_value(value), ci])
    return ["metric", "value", "95% CI (bootstrap)"], rows


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
