"""The confusion matrix: which classes a classifier's predicted labels confuse."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm

from pipelines.errors import DataValidationError
from pipelines.evaluation.classification import validate_labels
from pipelines.evaluation.plots.base import FIGSIZE

__all__ = ["confusion_matrix_figure", "MAX_ANNOTATED_CELLS"]

# Above this many classes the confusion matrix drops its cell values, or the figure
# becomes unreadable.
MAX_ANNOTATED_CELLS = 20


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
