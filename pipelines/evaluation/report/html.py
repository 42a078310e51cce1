"""HTML rendering of a report: one self-contained page with inline CSS and embedded figures."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from pipelines.evaluation.report.layout import report_blocks
from pipelines.evaluation.report.records import Link

if TYPE_CHECKING:
    from pipelines.evaluation.report.core import Report

__all__ = ["to_html"]


def to_html(report: Report) -> str:
    """Renders the report as one self-contained HTML page.

    The CSS is inline and every figure is embedded as a base64 `data:` URI; a
    Content-Security-Policy forbids loading anything else.
    """
    esc = html.escape
    body: list[str] = []
    for kind, *args in report_blocks(report):
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
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(entry.title)}">{caption}</figure>')
        elif kind == "text":
            body.append(f'<div class="text">{esc(args[0].strip())}</div>')
    # Concatenated, not str.format-ed: the CSS is full of braces.
    return _HTML_HEAD.replace("$title", esc(report.title)) + "\n".join(body) + "\n</body>\n</html>\n"


def _html_cell(cell: Any) -> str:
    if isinstance(cell, Link):
        return f'<a href="{html.escape(cell.href)}">{html.escape(cell.text)}</a>'
    return html.escape(cell)


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
