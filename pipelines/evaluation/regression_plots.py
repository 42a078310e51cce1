"""Regression figures: predicted against actual, residuals against fitted, partial dependence.

Every function returns a `matplotlib.figure.Figure` built without pyplot, as in
`pipelines.evaluation.plots`; `Report.add_figure` renders and closes it.

Example:
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> fig = predicted_vs_actual_figure(y, {"model": y + 0.1})
    >>> fig.axes[0].get_title()
    'Predicted vs actual'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError

__all__ = ["predicted_vs_actual_figure", "residuals_figure", "partial_dependence", "partial_dependence_figure"]

PANEL = (4.2, 3.6)


def predicted_vs_actual_figure(y_true: np.ndarray, predictions: Mapping[str, np.ndarray], *, unit: str = "") -> Figure:
    """Scatters each model's predictions against the targets, with the identity line.

    Args:
        y_true: Targets, shape `(n,)`.
        predictions: Model name to predictions of shape `(n,)`, drawn in order.
        unit: Axis label suffix, e.g. `"sales"`. Defaults to `""`.

    Returns:
        The figure; the legend gives each model's RMSE.

    Raises:
        DataValidationError: A prediction's shape differs from `y_true`'s.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    fig = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    for name, pred in predictions.items():
        pred = _check(y_true, pred, name)
        rmse = float(np.sqrt(np.mean((pred - y_true) ** 2)))
        ax.scatter(y_true, pred, s=12, alpha=0.7, label=f"{name} (RMSE {rmse:.3f})")
    lo, hi = float(y_true.min()), float(y_true.max())
    ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8, ls="--")
    ax.set_xlabel(f"actual {unit}".strip())
    ax.set_ylabel(f"predicted {unit}".strip())
    ax.set_title("Predicted vs actual")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left")
    return fig


def residuals_figure(y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> Figure:
    """Plots residuals (actual - predicted) against fitted values, one panel per model.

    A pattern (a U shape, a funnel) is structure the model missed.

    Args:
        y_true: Targets, shape `(n,)`.
        predictions: Model name to predictions of shape `(n,)`.

    Returns:
        The figure, panels sharing the residual axis.

    Raises:
        DataValidationError: A prediction's shape differs from `y_true`'s, or there are none.
    """
    if not predictions:
        raise DataValidationError("expected at least one model's predictions. Received: {}.")
    y_true = np.asarray(y_true, dtype=np.float64)
    fig = Figure(figsize=(PANEL[0] * len(predictions), PANEL[1]), layout="constrained")
    axes = fig.subplots(1, len(predictions), sharey=True, squeeze=False)[0]
    for ax, (name, pred) in zip(axes, predictions.items()):
        pred = _check(y_true, pred, name)
        ax.scatter(pred, y_true - pred, s=12, alpha=0.7)
        ax.axhline(0.0, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel("fitted")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("residual (actual - fitted)")
    return fig


def partial_dependence(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, column: int, grid: np.ndarray
) -> np.ndarray:
    """The average prediction when column `column` of every row is set to each grid value.

    Args:
        predict: Maps an `(m, f)` float array to `m` predictions.
        x: The rows to average over, shape `(n, f)`.
        column: The feature to vary.
        grid: Its values, shape `(g,)`.

    Returns:
        Average predictions, shape `(g,)`.

    Example:
        >>> pd_ = partial_dependence(lambda a: a.sum(axis=1), np.ones((4, 2)), 0, np.array([0.0, 2.0]))
        >>> pd_.tolist()
        [1.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    # One predict call over len(grid) copies of the data, not one call per grid value.
    stacked = np.repeat(x[None], len(grid), axis=0)
    stacked[:, :, column] = np.asarray(grid)[:, None]
    pred = np.asarray(predict(stacked.reshape(-1, x.shape[1])), dtype=np.float64).reshape(len(grid), len(x))
    return pred.mean(axis=1)


def partial_dependence_figure(
    models: Mapping[str, Callable[[np.ndarray], np.ndarray]],
    x: np.ndarray,
    features: Sequence[str],
    *,
    target: str = "prediction",
    grid_points: int = 40,
) -> Figure:
    """Partial dependence of each model on each feature, one panel per feature.

    Args:
        models: Name to a predict function `(m, f) -> (m,)`, drawn in order.
        x: The rows to average over, shape `(n, f)`; also drawn as a rug.
        features: Feature names, one per column of `x`.
        target: The y axis label. Defaults to `"prediction"`.
        grid_points: Grid values between each feature's min and max. Defaults to `40`.

    Returns:
        The figure.
    """
    x = np.asarray(x, dtype=np.float64)
    ncols = min(3, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig = Figure(figsize=(PANEL[0] * ncols, PANEL[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False).ravel()
    for j, (ax, name) in enumerate(zip(axes, features)):
        grid = np.linspace(x[:, j].min(), x[:, j].max(), grid_points)
        for label, predict in models.items():
            ax.plot(grid, partial_dependence(predict, x, j, grid), lw=1.6, label=label)
        # The rug shows where the data are, so the curve is read where it is supported.
        ax.plot(x[:, j], np.zeros_like(x[:, j]), "|", color="0.4", ms=6, alpha=0.5, transform=ax.get_xaxis_transform())
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    for ax in axes[len(features) :]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel(f"average {target}")
    axes[0].legend(fontsize="small")
    return fig


def _check(y_true: np.ndarray, pred: np.ndarray, name: str) -> np.ndarray:
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.shape != y_true.shape:
        raise DataValidationError(f"expected predictions of shape {y_true.shape} for {name!r}. Received: {pred.shape}.")
    return pred
