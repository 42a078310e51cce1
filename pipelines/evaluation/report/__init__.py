"""The run report shared by every pipeline: one object, written as JSON, Markdown and HTML.

A pipeline fills a `Report` (metrics, tables, figures, text) and calls `write`. The
Markdown and the HTML are rendered from the same list of blocks, so they always carry
the same content; the HTML is a single self-contained file that loads nothing from the
network.

- `core`: the `Report` itself, its JSON form and `write`.
- `records`: `Link` cells, `ci_keys`, the section records and JSON-safe values.
- `layout`: the list of blocks both renderers walk.
- `markdown`, `html`: the two renderers.
"""

from pipelines.evaluation.report.core import PNG_SIGNATURE, PREDICTIONS_FILE, STATUSES, Report
from pipelines.evaluation.report.records import Link, ci_keys

__all__ = ["Report", "Link", "STATUSES", "PREDICTIONS_FILE", "ci_keys", "PNG_SIGNATURE"]
