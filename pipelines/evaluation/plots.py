"""Evaluation figures: confusion matrix, ROC, precision-recall, reliability, curves, images.

Every function returns a `matplotlib.figure.Figure`. Figures are built directly (not
through pyplot's global figure manager), so one that is never closed is still garbage
collected; `figure_to_png` renders one to PNG bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn import metrics as skm
from sklearn.calibration import CalibrationDisplay

from pipelines.errors import DataValidationError
from pipelines.evaluation.classification import (  # noqa: E402
    expected_calibration_error,
    validate_binary_scores,
    validate_labels,
    validate_proba,
)

__all__ = [
    "confusion_matrix_figure",
    "roc_figure",
    "pr_figure",
    "average_curve",
    "reliability_figure",
    "learning_curves_figure",
    "image_grid_figure",
    "figure_to_png",
]

FIGSIZE = (5.0, 4.0)
# Above this many classes, per-class curves are drawn unlabeled and thin, and the
# confusion matrix drops its cell values, or the figure becomes unreadable.
MAX_LABELED_CLASSES = 10
MAX_ANNOTATED_CELLS = 20
_GRID = np.linspace(0.0, 1.0, 201)


def confusion_matrix_figure(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    normalize: str | None = None,
) -> Figure:
    """Draws the confusion matrix with `ConfusionMatrixDisplay`.

    Args:
        y_true: Integer labels in `[0, len(class_names))`, shape `(n,)`.
        y_pred: Predicted integer labels, shape `(n,)`.
        class_names: Name of each class, indexed by label.
        normalize: `None` for counts, or `"true"` (rows), `"pred"` (columns) or `"all"`,
            as in scikit-learn. Defaults to `None`.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the labels are invalid.
        ValueError: If `normalize` is not one of the accepted values.

    Example:
        >>> fig = confusion_matrix_figure([0, 1, 1], [0, 1, 0], ["cat", "dog"])
        >>> fig.axes[0].get_title()
        'Confusion matrix'
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"expected normalize to be None, 'true', 'pred' or 'all'. Received: normalize={normalize!r}")
    k = len(class_names)
    y_true = validate_labels(y_true, k, name="y_true")
    y_pred = validate_labels(y_pred, k, name="y_pred")
    if len(y_true) != len(y_pred):
        raise DataValidationError(
            "expected `y_true` and `y_pred` to have the same number of samples. "
            f"Received: {len(y_true)} and {len(y_pred)}."
        )
    side = max(FIGSIZE[0], min(16.0, 0.45 * k + 2.0))
    fig = Figure(figsize=(side, side * 0.85), layout="constrained")
    ax = fig.add_subplot()
    long_names = max(len(str(name)) for name in class_names) > 6
    skm.ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=np.arange(k),
        display_labels=[str(name) for name in class_names],
        normalize=normalize,
        include_values=k <= MAX_ANNOTATED_CELLS,
        values_format="d" if normalize is None else ".2f",
        xticks_rotation="vertical" if k > 6 or long_names else "horizontal",
        cmap="Blues",
        ax=ax,
    )
    title = "Confusion matrix"
    if normalize is not None:
        title += f" (normalized over {'all' if normalize == 'all' else normalize + ' labels'})"
    ax.set_title(title)
    return fig


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


def learning_curves_figure(history: Mapping[str, Sequence[float]]) -> Figure:
    """Draws training curves, one panel per metric with its `val_` twin.

    `loss` and `val_loss` share a panel, as do `accuracy` and `val_accuracy`, and so on;
    a key without a twin (such as `learning_rate`) gets its own panel.

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
        panels.setdefault(base, []).append(key)
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
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def image_grid_figure(images: np.ndarray, titles: Sequence[str], ncols: int = 8, cmap: str = "gray") -> Figure:
    """Draws images in a grid with a small title over each.

    Float RGB images outside [0, 1] are min-max scaled per image for display only.

    Args:
        images: Shape `(n, h, w)`, `(n, h, w, 1)` or `(n, h, w, 3)`.
        titles: One title per image.
        ncols: Number of columns. Defaults to `8`.
        cmap: Colormap for single-channel images. Defaults to `"gray"`.

    Returns:
        The figure.

    Raises:
        DataValidationError: If the shape is unsupported, `images` is empty, or the
            number of titles differs from the number of images.

    Example:
        >>> fig = image_grid_figure(np.zeros((3, 8, 8)), ["a", "b", "c"], ncols=2)
        >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
        ['a', 'b', 'c']
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise DataValidationError(
            f"expected images of shape (n, h, w), (n, h, w, 1) or (n, h, w, 3). Received: shape {images.shape}."
        )
    if len(images) == 0:
        raise DataValidationError("expected at least one image. Received: 0 images.")
    if len(titles) != len(images):
        raise DataValidationError(
            f"expected one title per image. Received: {len(titles)} titles for {len(images)} images."
        )
    if ncols < 1:
        raise DataValidationError(f"expected a positive integer. Received: ncols={ncols}")
    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = Figure(figsize=(1.6 * ncols, 1.9 * nrows), layout="constrained")
    for i, (image, title) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        if image.ndim == 3:
            ax.imshow(_displayable_rgb(image))
        else:
            ax.imshow(image, cmap=cmap)
        ax.set_title(str(title), fontsize=7)
        ax.set_axis_off()
    return fig


def figure_to_png(fig: Figure, dpi: int = 100) -> bytes:
    """Renders a figure to PNG bytes and closes it.

    Args:
        fig: The figure to render.
        dpi: Resolution. Defaults to `100`.

    Returns:
        The PNG file content.

    Example:
        >>> figure_to_png(learning_curves_figure({"loss": [1.0, 0.5]}))[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    # No "Software" metadata, so the same figure always gives the same bytes.
    # Standalone Figures render with the Agg canvas whatever pyplot's backend is, so
    # importing this module never switches a notebook's backend.
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


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


def _displayable_rgb(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.integer):
        return image
    image = image.astype(np.float64)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if low >= 0.0 and high <= 1.0:
        return image
    return (image - low) / (high - low) if high > low else np.zeros_like(image)
