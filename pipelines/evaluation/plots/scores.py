"""Figures of a classifier's predicted probabilities: ROC, precision-recall and reliability.

Each takes the true labels and the class probabilities (or, for a binary task, a 1-D
score of class 1); `average_curve` is the single curve the ROC and precision-recall
figures summarize a classifier by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.calibration import CalibrationDisplay

from pipelines.errors import DataValidationError
from pipelines.evaluation.classification import (
    expected_calibration_error,
    validate_binary_scores,
    validate_proba,
)
from pipelines.evaluation.plots.base import FIGSIZE

__all__ = ["roc_figure", "pr_figure", "average_curve", "reliability_figure", "MAX_LABELED_CLASSES"]

# Above this many classes, per-class curves are drawn unlabeled and thin, or the figure
# becomes unreadable.
MAX_LABELED_CLASSES = 10
_GRID = np.linspace(0.0, 1.0, 201)


def roc_figure(y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Draws one-vs-rest ROC curves with their AUCs in the legend.

    With more than two classes: one curve per class, plus the micro average (all
    one-vs-rest decisions pooled) and the macro average (mean TPR over a common FPR
    grid; its AUC is the mean of the per-class AUCs). A class absent from `y_true` has
    no curve and is left out of the macro average. With two classes, or a 1-D score,
    there is a single curve for class 1, since class 0's curve carries the same
    information.

    Args:
        y_true: Integer labels, shape `(n,)`.
        proba: Class probabilities `(n, k)`, or a 1-D score of class 1 for a binary task.
        class_names: Name of each class, indexed by label.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the inputs are invalid.

    Example:
        >>> fig = roc_figure([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], ["neg", "pos"])
        >>> fig.axes[0].get_legend_handles_labels()[1][0]
        'pos (AUC = 1.0000)'
    """
    return _curves_figure(y_true, proba, class_names, kind="roc")


def pr_figure(y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Draws one-vs-rest precision-recall curves with average precision in the legend.

    The same curves as `roc_figure`. The macro average is the mean interpolated
    precision (the best precision at recall >= r) over a common recall grid; its AP
    in the legend is the mean of the per-class APs.

    Args:
        y_true: Integer labels, shape `(n,)`.
        proba: Class probabilities `(n, k)`, or a 1-D score of class 1 for a binary task.
        class_names: Name of each class, indexed by label.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the inputs are invalid.

    Example:
        >>> fig = pr_figure([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], ["neg", "pos"])
        >>> fig.axes[0].get_title()
        'Precision-recall'
    """
    return _curves_figure(y_true, proba, class_names, kind="pr")


def reliability_figure(y_true: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> Figure:
    """Draws the reliability diagram of the top-label confidence, with the ECE in the title.

    Args:
        y_true: Integer labels, shape `(n,)`.
        proba: Class probabilities `(n, k)`, or a 1-D probability of class 1.
        n_bins: Number of equal-width confidence bins. Defaults to `15`.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the inputs are invalid.

    Example:
        >>> fig = reliability_figure([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], n_bins=5)
        >>> fig.axes[0].get_title()
        'Reliability (ECE = 0.2750)'
    """
    y_true, proba = _as_proba(y_true, proba)
    ece = expected_calibration_error(y_true, proba, n_bins=n_bins)
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(int)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    # pos_label is explicit because `correct` may hold a single value.
    CalibrationDisplay.from_predictions(
        correct,
        confidence,
        n_bins=n_bins,
        strategy="uniform",
        pos_label=1,
        name="model",
        ax=ax,
    )
    ax.set_xlabel("Confidence (top-label probability)")
    ax.set_ylabel("Accuracy")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_title(f"Reliability (ECE = {ece:.4f})")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def average_curve(y_true: np.ndarray, proba: np.ndarray, *, kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The curve `roc_figure` or `pr_figure` summarizes a classifier by, as `(x, y, score)`.

    With two classes, class 1's curve and its AUC (or AP). With more, the macro average:
    the mean TPR (or interpolated precision) over a common grid, and the mean of the
    per-class AUCs (or APs), the report's `roc_auc_ovr_macro`; classes without positives
    are left out, as in the figures.

    Args:
        y_true: Integer labels, shape `(n,)`.
        proba: Class probabilities `(n, k)`.
        kind: `"roc"` or `"pr"`.

    Example:
        >>> x, y, auc = average_curve(np.array([0, 1, 1, 0]), np.array([[.8, .2], [.1, .9], [.4, .6], [.6, .4]]),
        ...                           kind="roc")
        >>> auc
        1.0
    """
    if kind not in ("roc", "pr"):
        raise ValueError(f"expected kind 'roc' or 'pr'. Received: kind={kind!r}")
    y_true, proba = validate_proba(y_true, proba)
    onehot = np.eye(proba.shape[1], dtype=int)[y_true]
    if proba.shape[1] == 2:
        return _curve(onehot[:, 1], proba[:, 1], kind)
    curves, scores = [], []
    for c in range(proba.shape[1]):
        if onehot[:, c].min() == onehot[:, c].max():
            continue
        x, y, score = _curve(onehot[:, c], proba[:, c], kind)
        curves.append(_on_grid(x, y, kind))
        scores.append(score)
    return _GRID, np.mean(curves, axis=0), float(np.mean(scores))


def _as_proba(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba = np.asarray(proba)
    if proba.ndim == 1:
        y_true, score = validate_binary_scores(y_true, proba)
        proba = np.stack([1.0 - score, score], axis=1)
    return validate_proba(y_true, proba)


def _curves_figure(y_true: np.ndarray, proba: np.ndarray, class_names: Sequence[str], *, kind: str) -> Figure:
    proba = np.asarray(proba)
    if proba.ndim == 1 or proba.shape[1] == 2:
        y_true, proba = _as_proba(y_true, proba)
        _check_class_names(class_names, 2)
        columns = [1]
    else:
        y_true, proba = validate_proba(y_true, proba)
        _check_class_names(class_names, proba.shape[1])
        columns = list(range(proba.shape[1]))
    onehot = np.eye(proba.shape[1], dtype=int)[y_true]
    is_labeled = len(columns) <= MAX_LABELED_CLASSES

    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    macro_curves, macro_scores = [], []
    for c in columns:
        if onehot[:, c].min() == onehot[:, c].max():
            continue  # a class without positives (or negatives) has no curve
        x, y, score = _curve(onehot[:, c], proba[:, c], kind)
        macro_curves.append(_on_grid(x, y, kind))
        macro_scores.append(score)
        if is_labeled:
            ax.plot(
                x,
                y,
                lw=1.2,
                label=_label(str(class_names[c]), score, kind),
                drawstyle="steps-post" if kind == "pr" else "default",
            )
        else:
            label = f"each of {len(columns)} classes" if len(macro_curves) == 1 else None
            ax.plot(
                x, y, lw=0.6, color="0.7", alpha=0.6, label=label, drawstyle="steps-post" if kind == "pr" else "default"
            )
    if len(columns) > 1:
        x, y, score = _curve(onehot.ravel(), proba.ravel(), kind)
        ax.plot(
            x,
            y,
            lw=2,
            ls="--",
            color="deeppink",
            label=_label("micro-average", score, kind),
            drawstyle="steps-post" if kind == "pr" else "default",
        )
        if macro_curves:
            ax.plot(
                _GRID,
                np.mean(macro_curves, axis=0),
                lw=2,
                ls=":",
                color="navy",
                label=_label("macro-average", float(np.mean(macro_scores)), kind),
            )
    loc: Literal["lower right", "lower left"]
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.set_title("ROC (one-vs-rest)" if len(columns) > 1 else "ROC")
        loc = "lower right"
    else:
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title("Precision-recall (one-vs-rest)" if len(columns) > 1 else "Precision-recall")
        loc = "lower left"
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    if kind == "roc" and macro_scores and min(macro_scores) > 0.99:
        # Near-perfect curves hug the corner on a linear axis; a log FPR axis shows
        # where they differ (down to one false positive among the negatives).
        negatives = int((onehot[:, columns] == 0).sum(axis=0).max())
        left = 1.0 / max(negatives, 2)
        ax.set_xscale("log")
        ax.set_xlim(left, 1.0)
        ax.get_lines()[-1].remove()  # the chance diagonal is a curve on this axis, and off-scale
        lowest = min(
            float(np.interp(left, np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)))
            for line in ax.get_lines()
        )
        ax.set_ylim(max(0.0, min(lowest, 0.98) - 0.01), 1.002)
        ax.set_xlabel("False positive rate (log scale)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize="x-small")
    return fig


def _curve(y: np.ndarray, score: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    if kind == "roc":
        fpr, tpr, _ = skm.roc_curve(y, score)
        return fpr, tpr, float(skm.auc(fpr, tpr))
    precision, recall, _ = skm.precision_recall_curve(y, score)
    return recall, precision, float(skm.average_precision_score(y, score))


def _on_grid(x: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    if kind == "roc":
        return np.interp(_GRID, x, y)  # fpr is non-decreasing, as interp requires
    # Interpolated precision: the best precision reachable at recall >= r.
    order = np.argsort(x, kind="stable")
    recall, precision = x[order], y[order]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.minimum(np.searchsorted(recall, _GRID, side="left"), len(recall) - 1)
    return envelope[idx]


def _label(name: str, score: float, kind: str) -> str:
    # 4 decimals: for strong models the interesting differences are past the third.
    return f"{name} ({'AUC' if kind == 'roc' else 'AP'} = {score:.4f})"


def _check_class_names(class_names: Sequence[str], k: int) -> None:
    if len(class_names) != k:
        raise DataValidationError(
            f"expected {k} class names to match `proba`. Received: {len(class_names)} ({list(class_names)[:5]}...)."
        )
