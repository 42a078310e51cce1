"""What every evaluation figure shares: its default size, and rendering it to PNG bytes."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["FIGSIZE", "figure_to_png"]

FIGSIZE = (5.0, 4.0)


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Renders a figure to PNG bytes and closes it.

    Args:
        fig: The figure to render.
        dpi: Resolution. Defaults to `100`.

    Returns:
        The PNG file content.

    Example:
        >>> from pipelines.evaluation.plots import learning_curves_figure
        >>> figure_to_png(learning_curves_figure({"loss": [1.0, 0.5]}))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    # No "Software" metadata, so the same figure always gives the same bytes.
    # Standalone Figures render with the Agg canvas whatever pyplot's backend is, so
    # importing this module never switches a notebook's backend.
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
