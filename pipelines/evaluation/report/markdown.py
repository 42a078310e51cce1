"""Markdown rendering of a report: `report.md`, with figures linked as PNGs beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.evaluation.report.layout import report_blocks
from pipelines.evaluation.report.records import Link

if TYPE_CHECKING:
    from pipelines.evaluation.report.core import Report

__all__ = ["to_markdown"]


def to_markdown(report: Report) -> str:
    """Renders the report as Markdown; figures link to `<name>.png` beside it."""
    out: list[str] = []
    for kind, *args in report_blocks(report):
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


def _md_link_or_cell(cell: Any) -> str:
    if isinstance(cell, Link):
        text = cell.text.replace("[", "\\[").replace("]", "\\]")
        return f"[{_md_cell(text)}](<{cell.href}>)"
    return _md_cell(cell)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
