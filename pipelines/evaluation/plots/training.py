"""Learning curves: how each metric of a Keras `History` moved over the epochs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipelines.errors import DataValidationError

__all__ = ["learning_curves_figure"]


def learning_curves_figure(history: Mapping[str, Sequence[float]]) -> Figure:
    """Draws training curves, one panel per metric with its `val_` twin.

    `loss` and `val_loss` share a panel, as do `accuracy` and `val_accuracy`, and so on;
    a key without a twin (such as `learning_rate`) gets its own panel. A gradient norm's
    mean and maximum (`grad_norm` and `grad_norm_max`, a GAN's `d_grad_norm` and
    `d_grad_norm_max`, ...) share one, on a log scale.

    Args:
        history: A Keras `History.history`: metric name to one value per epoch.

    Returns:
        The figure, x axis in epochs counted from 1.

    Raises:
        DataValidationError: If `history` is empty or a value is not a list of numbers.

    Example:
        >>> fig = learning_curves_figure({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
        >>> [ax.get_title() for ax in fig.axes]
        ['loss']
    """
    if not history:
        raise DataValidationError("expected a non-empty training history. Received: {}.")
    panels: dict[str, list[str]] = {}
    for key in history:
        base = key[len("val_") :] if key.startswith("val_") else key
        panels.setdefault(base.removesuffix("_max") if "grad_norm" in base else base, []).append(key)
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(4.0 * ncols, 3.0 * nrows), layout="constrained")
    for i, (base, keys) in enumerate(panels.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for key in sorted(keys, key=lambda name: name.startswith("val_")):
            values = _as_curve(history[key], key)
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, marker="o" if len(values) < 20 else None, markersize=3, label=key)
        ax.set_title(base)
        if base.endswith("grad_norm") and all(min(history[key]) > 0 for key in keys):
            ax.set_yscale("log")  # explosions and vanishing span orders of magnitude
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def _as_curve(values: Sequence[float], key: str) -> np.ndarray:
    try:
        curve = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"expected a list of numbers for history[{key!r}]. Received: {values!r}") from exc
    if curve.ndim != 1:
        raise DataValidationError(
            f"expected a 1-D list of numbers for history[{key!r}]. Received: shape {curve.shape}."
        )
    return curve
