"""The standard evaluation section of every classifier pipeline's report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from pipelines.errors import DataValidationError
from pipelines.evaluation import plots
from pipelines.evaluation.bootstrap import (
    N_RESAMPLES,
    Interval,
    classification_intervals,
    interval_metrics,
    interval_rows,
)
from pipelines.evaluation.classification import (
    classification_metrics,
    per_class_table,
    validate_proba,
)
from pipelines.evaluation.report import Report

__all__ = ["add_classification_evaluation", "add_interval_table", "fingerprint"]


def fingerprint(*arrays: np.ndarray) -> str:
    """A SHA-256 of arrays' shapes, dtypes and bytes: equal test sets give equal prints.

    Example:
        >>> fingerprint(np.arange(3)) == fingerprint(np.arange(3)), fingerprint(np.arange(3))[:7]
        (True, 'sha256:')
    """
    import hashlib

    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype.str}".encode())
        digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def add_interval_table(report: Report, intervals: Mapping[str, Interval], *, what: str) -> None:
    """Adds the bootstrap intervals' table and their `<name>_ci_low/_ci_high` metrics.

    Args:
        report: The report to fill.
        intervals: Metric name to `bootstrap.Interval`.
        what: What was resampled, for the note ("the 10,000 test images").
    """
    report.add_metrics(interval_metrics(intervals))
    report.add_table(
        "Bootstrap 95% confidence intervals",
        interval_rows(intervals),
        note=f"Percentile intervals over {N_RESAMPLES:,} resamples (seed 0) of {what}, drawn with replacement; "
        "the model is fixed, so they show the test set's sampling error, not the training's. Resamples "
        "where a metric is undefined are left out (see the resamples column).",
    )


def add_classification_evaluation(
    report: Report,
    y_true: np.ndarray,
    proba: np.ndarray,
    class_names: Sequence[str],
    *,
    images: np.ndarray | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
    n_mistakes: int = 24,
) -> dict[str, float]:
    """Adds metrics, a per-class table and the standard figures of a classifier.

    Metrics get bootstrap 95 % intervals (`accuracy`, `f1_macro`, `roc_auc_ovr_macro`;
    see `pipelines.evaluation.bootstrap`), and the labels and probabilities are attached
    as the report's predictions for `pipelines compare`.

    Figures: `confusion_matrix` (counts), `confusion_matrix_normalized` (over true
    labels), `roc_curves`, `pr_curves`, `reliability`, `learning_curves` (when `history`
    is given; it is also stored as `report.history`) and `confident_mistakes` (the
    `n_mistakes` wrong predictions with the highest confidence, when `images` is given).

    Args:
        report: The report to fill.
        y_true: Integer test labels, shape `(n,)`.
        proba: Predicted class probabilities, shape `(n, k)`.
        class_names: Name of each class, indexed by label.
        images: The `n` test inputs as images, `(n, h, w)`, `(n, h, w, 1)` or
            `(n, h, w, 3)`. Defaults to `None` (no mistakes figure).
        history: The Keras `History.history` of training. Defaults to `None`.
        n_mistakes: Most mistakes to show. Defaults to `24`.

    Returns:
        The metrics of `classification_metrics` and the `<name>_ci_low/_ci_high` of the
        three headline metrics, as added to the report.

    Raises:
        DataValidationError: If the inputs disagree in length or class count.

    Example:
        >>> report = Report("demo")
        >>> y = np.array([0, 1, 1, 0])
        >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
        >>> metrics = add_classification_evaluation(report, y, p, ["neg", "pos"])
        >>> metrics["accuracy"], report.to_dict()["figures"][0]
        (0.75, 'confusion_matrix.png')
    """
    y_true, proba = validate_proba(y_true, proba)
    if len(class_names) != proba.shape[1]:
        raise DataValidationError(
            f"expected one class name per column of `proba` ({proba.shape[1]}). "
            f"Received: {len(class_names)} class names."
        )
    if images is not None and len(images) != len(y_true):
        raise DataValidationError(f"expected one image per sample ({len(y_true)}). Received: {len(images)} images.")
    if n_mistakes < 1:
        raise DataValidationError(f"expected a positive integer. Received: n_mistakes={n_mistakes}")

    metrics = classification_metrics(y_true, proba)
    report.add_metrics(metrics)
    intervals = classification_intervals(y_true, proba)
    add_interval_table(report, intervals, what=f"the {len(y_true):,} test samples")
    metrics.update(interval_metrics(intervals))
    report.extra.setdefault("headline_metric", "accuracy")
    # The inputs, when given, go into the print too: equal labels alone do not make equal test sets.
    print_of = fingerprint(y_true) if images is None else fingerprint(y_true, np.asarray(images))
    report.add_predictions(
        "classification",
        y_true=y_true,
        proba=proba,
        class_names=np.asarray([str(c) for c in class_names]),
        fingerprint=print_of,
    )
    y_pred = proba.argmax(axis=1)
    report.add_table(
        "Per-class metrics",
        per_class_table(y_true, y_pred, class_names),
        note="Precision, recall and F1 of each class against the rest; support is its number of test samples.",
    )
    report.add_figure(
        "confusion_matrix",
        plots.confusion_matrix_figure(y_true, y_pred, class_names),
        title="Confusion matrix",
        caption="Rows are true classes, columns predicted classes; cells count samples.",
    )
    report.add_figure(
        "confusion_matrix_normalized",
        plots.confusion_matrix_figure(y_true, y_pred, class_names, normalize="true"),
        title="Confusion matrix (normalized)",
        caption="Each row divided by its total: the diagonal is each class's recall.",
    )
    report.add_figure(
        "roc_curves",
        plots.roc_figure(y_true, proba, class_names),
        title="ROC curves",
        caption="One-vs-rest ROC curves with their areas.",
    )
    report.add_figure(
        "pr_curves",
        plots.pr_figure(y_true, proba, class_names),
        title="Precision-recall curves",
        caption="One-vs-rest precision-recall curves with their average precision.",
    )
    report.add_figure(
        "reliability",
        plots.reliability_figure(y_true, proba),
        title="Reliability diagram",
        caption="Accuracy against top-label confidence in 15 equal-width bins; the diagonal is perfect calibration.",
    )
    if history:
        report.history = {key: [float(v) for v in values] for key, values in history.items()}
        report.add_figure(
            "learning_curves",
            plots.learning_curves_figure(history),
            title="Learning curves",
            caption="Training and validation metrics per epoch.",
        )
    if images is not None:
        _add_confident_mistakes(report, y_true, proba, class_names, np.asarray(images), n_mistakes)
    return metrics


def _add_confident_mistakes(
    report: Report,
    y_true: np.ndarray,
    proba: np.ndarray,
    class_names: Sequence[str],
    images: np.ndarray,
    n_mistakes: int,
) -> None:
    y_pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    if wrong.size == 0:
        report.add_text("Most confident mistakes", "No test sample was misclassified.")
        return
    # Stable sort so ties keep test-set order and the figure is reproducible.
    shown = wrong[np.argsort(-confidence[wrong], kind="stable")][:n_mistakes]
    titles = [
        # Two lines, or neighbouring titles overlap at eight columns.
        f"true {class_names[y_true[i]]}\npred {class_names[y_pred[i]]} ({confidence[i]:.2f})"
        for i in shown
    ]
    report.add_figure(
        "confident_mistakes",
        plots.image_grid_figure(images[shown], titles),
        title="Most confident mistakes",
        caption=f"The {len(shown)} misclassified test samples with the highest "
        f"confidence, out of {wrong.size} mistakes.",
    )
