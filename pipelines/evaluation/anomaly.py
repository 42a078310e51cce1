"""Anomaly detection by reconstruction error, scored with the standard binary report.

An autoencoder trained without one class reconstructs that class worse, so an image's
reconstruction error (mean squared error against the image) is its anomaly score. The
binary metrics and ROC/PR figures of `pipelines.evaluation.classification` and `plots`
expect scores in [0, 1], so the errors are mapped by `e -> e / (e + s)`, where `s` is the
median error of the normal validation images. The map is strictly increasing: ROC AUC,
average precision and the F1 threshold are exactly those of the raw errors, and a score
of 0.5 means "as large an error as the typical normal image".

Example:
    >>> scale = float(np.median([1.0, 2.0, 3.0]))
    >>> unit_scores(np.array([0.0, 2.0, 6.0]), scale).tolist()
    [0.0, 0.5, 0.75]
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError
from pipelines.evaluation import plots
from pipelines.evaluation.classification import best_f1_threshold, binary_metrics, validate_binary_scores
from pipelines.evaluation.report import Report

__all__ = ["reconstruction_errors", "unit_scores", "add_anomaly_evaluation", "score_histogram_figure"]


def reconstruction_errors(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Per-image mean squared error between images and their reconstructions.

    Args:
        images: `(n, ...)` floats.
        reconstructions: Same shape.

    Returns:
        float64 `(n,)`.

    Raises:
        DataValidationError: The shapes differ.

    Example:
        >>> reconstruction_errors(np.zeros((2, 2, 2)), np.array([np.zeros((2, 2)), np.ones((2, 2))])).tolist()
        [0.0, 1.0]
    """
    images, reconstructions = np.asarray(images, np.float64), np.asarray(reconstructions, np.float64)
    if images.shape != reconstructions.shape or images.ndim < 2:
        raise DataValidationError(
            f"expected images and reconstructions of one shape (n, ...). "
            f"Received: {images.shape} and {reconstructions.shape}"
        )
    return np.mean((images - reconstructions) ** 2, axis=tuple(range(1, images.ndim)))


def unit_scores(errors: np.ndarray, scale: float) -> np.ndarray:
    """Maps non-negative errors to [0, 1) by the strictly increasing `e / (e + scale)`.

    Args:
        errors: Reconstruction errors, `(n,)`, >= 0.
        scale: The error that maps to 0.5; use the median error of normal validation images.

    Returns:
        float64 `(n,)` in [0, 1).

    Raises:
        DataValidationError: A negative or non-finite error, or a scale that is not positive.

    Example:
        >>> unit_scores(np.array([1.0, 3.0]), 1.0).tolist()
        [0.5, 0.75]
    """
    errors = np.asarray(errors, np.float64)
    if not (np.isfinite(scale) and scale > 0):
        raise DataValidationError(f"expected a positive, finite scale. Received: scale={scale!r}")
    if not np.isfinite(errors).all() or (errors < 0).any():
        raise DataValidationError(
            "expected finite, non-negative errors. Received: "
            f"min={np.nanmin(errors)}, {int((~np.isfinite(errors)).sum())} non-finite."
        )
    return errors / (errors + scale)


def add_anomaly_evaluation(
    report: Report,
    y_test: np.ndarray,
    test_errors: np.ndarray,
    y_val: np.ndarray,
    val_errors: np.ndarray,
    *,
    anomaly_name: str = "anomaly",
) -> dict[str, float]:
    """Adds the anomaly metrics, ROC/PR curves and a score histogram to `report`.

    The score scale (median normal validation error) and the F1-maximizing threshold are
    chosen on validation; the test set is only scored.

    Args:
        report: The report to fill.
        y_test: 1 for an anomaly, 0 for a normal test image, `(n,)`.
        test_errors: Reconstruction errors of the test images, `(n,)`.
        y_val: Labels of the validation images, with both classes present.
        val_errors: Their reconstruction errors.
        anomaly_name: Name of the positive class in the figures. Defaults to `"anomaly"`.

    Returns:
        `anomaly_roc_auc`, `anomaly_average_precision`, `anomaly_f1`, `anomaly_precision`,
        `anomaly_recall`, `anomaly_accuracy` (test), `anomaly_val_f1`, `anomaly_threshold`
        (in score units), `anomaly_threshold_error` (the same cut in raw error) and
        `anomaly_score_scale`, as added to the report.

    Raises:
        DataValidationError: Invalid labels or errors, or validation without both classes.

    Example:
        >>> report = Report("demo")
        >>> y = np.array([0, 0, 1, 1])
        >>> m = add_anomaly_evaluation(report, y, np.array([1.0, 2.0, 5.0, 6.0]), y, np.array([1.0, 2.0, 4.0, 7.0]))
        >>> m["anomaly_roc_auc"], m["anomaly_f1"]
        (1.0, 1.0)
    """
    y_val, val_errors = validate_binary_scores(y_val, val_errors)
    y_test, test_errors = validate_binary_scores(y_test, test_errors)
    normal_val = val_errors[y_val == 0]
    if normal_val.size == 0:
        raise DataValidationError("expected normal (label 0) validation images to set the score scale. Received none.")
    scale = float(np.median(normal_val))
    if scale <= 0:
        raise DataValidationError(
            "expected a positive median reconstruction error of the normal validation images "
            "to scale the scores. Received: 0 (more than half reconstructed exactly)."
        )
    val_scores, test_scores = unit_scores(val_errors, scale), unit_scores(test_errors, scale)
    threshold = best_f1_threshold(y_val, val_scores)
    test = binary_metrics(y_test, test_scores, threshold=threshold)
    metrics = {
        "anomaly_roc_auc": test["roc_auc"],
        "anomaly_average_precision": test["average_precision"],
        "anomaly_f1": test["f1"],
        "anomaly_precision": test["precision"],
        "anomaly_recall": test["recall"],
        "anomaly_accuracy": test["accuracy"],
        "anomaly_val_f1": binary_metrics(y_val, val_scores, threshold=threshold)["f1"],
        "anomaly_threshold": threshold,
        "anomaly_threshold_error": threshold * scale / (1.0 - threshold),  # inverse of e / (e + s)
        "anomaly_score_scale": scale,
    }
    report.add_metrics(metrics)
    names = ["normal", anomaly_name]
    report.add_figure(
        "anomaly_roc",
        plots.roc_figure(y_test, test_scores, names),
        title="Anomaly ROC",
        caption="Test images; score = e / (e + s), e the reconstruction error, s the median "
        "error of normal validation images.",
    )
    report.add_figure(
        "anomaly_pr",
        plots.pr_figure(y_test, test_scores, names),
        title="Anomaly precision-recall",
        caption=f"Positives: {anomaly_name}; prevalence {y_test.mean():.3f} on the test set.",
    )
    report.add_figure(
        "anomaly_scores",
        score_histogram_figure(y_test, test_scores, threshold, names),
        title="Anomaly score distribution",
        caption="Test scores per class; the dashed line is the F1-maximizing threshold chosen on validation.",
    )
    return metrics


def score_histogram_figure(y: np.ndarray, score: np.ndarray, threshold: float, names: list[str]) -> Figure:
    """Draws the score histograms of the normal and the anomalous images, with the threshold.

    Args:
        y: 0/1 labels, `(n,)`.
        score: Scores in [0, 1], `(n,)`.
        threshold: Drawn as a dashed vertical line.
        names: The names of class 0 and class 1.

    Returns:
        The figure.

    Example:
        >>> fig = score_histogram_figure(np.array([0, 1]), np.array([0.2, 0.8]), 0.5, ["normal", "zero"])
        >>> fig.axes[0].get_xlabel()
        'anomaly score'
    """
    y, score = validate_binary_scores(y, score)
    fig = Figure(figsize=plots.FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 51)
    for label, name in enumerate(names):
        if (y == label).any():
            members = y == label
            ax.hist(
                score[members],
                bins=bins,  # type: ignore[arg-type]  # matplotlib's stub omits arrays; hist takes them
                alpha=0.6,
                density=True,
                label=f"{name} (n={int(members.sum())})",
            )
    ax.axvline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("density")
    ax.set_title("Anomaly scores")
    ax.legend(fontsize="small")
    return fig
