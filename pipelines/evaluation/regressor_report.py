"""The standard evaluation section of a cross-validated regressor's report.

`add_regression_evaluation` scores every model's out-of-fold predictions side by side,
draws the regression figures, and adds the classification view of the same task
("does the target exceed a threshold?") through the classifiers' metrics and curves, with
the regressor's out-of-fold predictions as scores. `add_ols_section` adds the OLS
inference table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from pipelines.errors import DataValidationError
from pipelines.evaluation import plots, regression_plots
from pipelines.evaluation.bootstrap import bootstrap, interval_metrics, r2_stat
from pipelines.evaluation.classification import binary_metrics
from pipelines.evaluation.classifier_report import add_interval_table, fingerprint
from pipelines.evaluation.regression import CV_METRICS, cv_metrics, regression_metrics
from pipelines.evaluation.report import Report

__all__ = [
    "CVResult",
    "add_regression_evaluation",
    "add_ols_section",
    "add_partial_dependence",
    "add_fit_evaluation",
    "threshold_labels",
]

# Metrics of the threshold view that go into the report's flat metrics.
THRESHOLD_METRICS = ("roc_auc", "average_precision", "f1", "precision", "recall")


@dataclasses.dataclass(frozen=True)
class CVResult:
    """One model's cross-validated predictions.

    Attributes:
        name: Display name, e.g. `"MLP (Keras)"`.
        prefix: Prefix of its metric names: `""` for the pipeline's own model, else e.g.
            `"ols_"`.
        oof: Out-of-fold predictions, shape `(n,)`.
        seconds: Wall time to cross-validate it, or `None` if not measured.
    """

    name: str
    prefix: str
    oof: np.ndarray
    seconds: float | None = None


def threshold_labels(y: np.ndarray, threshold: float) -> np.ndarray:
    """Labels 1 where `y > threshold`, else 0; both classes must occur.

    Raises:
        DataValidationError: Every row falls on one side of the threshold.

    Example:
        >>> threshold_labels(np.array([1.0, 2.0, 3.0]), 2.0).tolist()
        [0, 0, 1]
    """
    labels = (np.asarray(y) > threshold).astype(np.int64)
    if labels.min() == labels.max():
        raise DataValidationError(
            f"expected a threshold inside the target's range so that both classes occur. Received: "
            f"threshold={threshold} with targets in [{np.min(y)}, {np.max(y)}]. Pass a threshold in that "
            "range, or None for the median."
        )
    return labels


def add_regression_evaluation(
    report: Report,
    y_true: np.ndarray,
    fold_ids: np.ndarray,
    results: Sequence[CVResult],
    *,
    threshold: float,
    target: str = "target",
    history: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, float]:
    """Adds cross-validation metrics, the comparison table, figures and the threshold view.

    Figures: `predicted_vs_actual` and `residuals_vs_fitted` (out-of-fold, the first two
    results), `roc_curve` and `pr_curve` (the threshold view of the first result) and
    `learning_curves` (when `history` is given; it is also stored as `report.history`).

    Args:
        report: The report to fill.
        y_true: Targets, shape `(n,)`.
        fold_ids: Fold index of every row, shape `(n,)`.
        results: The models, the pipeline's own first.
        threshold: The threshold view's cut: positive means `y_true > threshold`.
        target: The target's name, for labels. Defaults to `"target"`.
        history: Training history of the first model. Defaults to `None`.

    Returns:
        The metrics added: `{prefix}cv_{r2,rmse,mae}_{mean,std}` per result, then
        `oof_r2` (R^2 of the first result's pooled out-of-fold predictions) with its
        bootstrap interval `oof_r2_ci_low/_ci_high`, then `roc_auc`, `average_precision`,
        `f1`, `precision`, `recall`. The targets and the first result's out-of-fold
        predictions are attached as the report's predictions for `pipelines compare`.

    Raises:
        DataValidationError: Shapes disagree, a prediction is not finite, or the
            threshold leaves a single class.

    Example:
        >>> y = np.arange(20.0)
        >>> r = CVResult("model", "", y + 0.5)
        >>> m = add_regression_evaluation(Report("demo"), y, np.arange(20) % 4, [r], threshold=9.5)
        >>> m["cv_rmse_mean"], m["roc_auc"]
        (0.5, 1.0)
    """
    if not results:
        raise DataValidationError("expected at least one CVResult. Received none.")
    labels = threshold_labels(y_true, threshold)
    metrics: dict[str, float] = {}
    for result in results:
        metrics.update(cv_metrics(y_true, result.oof, fold_ids, prefix=result.prefix))
    folds = len(np.unique(fold_ids))
    rows = []
    for result in results:
        row: dict[str, Any] = {"model": result.name}
        for name in CV_METRICS:
            row[f"{name} mean"] = metrics[f"{result.prefix}cv_{name}_mean"]
            row[f"{name} std"] = metrics[f"{result.prefix}cv_{name}_std"]
        row["seconds"] = result.seconds
        rows.append(row)
    report.add_table(
        f"Cross-validation ({folds} folds)",
        rows,
        note=f"Each fold's held-out rows are scored by the model trained on the other {folds - 1} folds; "
        "mean and sample standard deviation over folds. Seconds: wall time of all folds.",
    )
    shown = {result.name: result.oof for result in results[:2]}
    report.add_figure(
        "predicted_vs_actual",
        regression_plots.predicted_vs_actual_figure(y_true, shown, unit=target),
        title="Predicted vs actual",
        caption="Out-of-fold predictions: each row predicted by the model that did not train on it.",
    )
    report.add_figure(
        "residuals_vs_fitted",
        regression_plots.residuals_figure(y_true, shown),
        title="Residuals vs fitted",
        caption="Out-of-fold residuals; a pattern is structure the model missed.",
    )

    # The interval needs one test set: the pooled out-of-fold predictions, each row scored once.
    intervals = {"oof_r2": bootstrap(r2_stat(y_true, results[0].oof), len(y_true))}
    metrics["oof_r2"] = intervals["oof_r2"].estimate
    metrics.update(interval_metrics(intervals))
    report.extra.setdefault("headline_metric", "cv_r2_mean")
    report.add_predictions(
        "regression",
        y_true=np.asarray(y_true, dtype=np.float64),
        y_pred=np.asarray(results[0].oof, dtype=np.float64),
        fold_ids=np.asarray(fold_ids),
        fingerprint=fingerprint(np.asarray(y_true, dtype=np.float64)),
    )

    # The classification view: the regressor's out-of-fold prediction is the score.
    score = np.asarray(results[0].oof, dtype=np.float64)
    binary = binary_metrics(labels, score, threshold=threshold)
    metrics.update({name: binary[name] for name in THRESHOLD_METRICS})
    classes = [f"{target} <= {threshold:g}", f"{target} > {threshold:g}"]
    report.add_table(
        f"Threshold view: {target} > {threshold:g}",
        [{"threshold": threshold, "positives": int(labels.sum()), "rows": len(labels), **binary}],
        note=f"Positive when {target} > threshold; predicted positive when {results[0].name}'s out-of-fold "
        "prediction >= threshold (F1, accuracy, precision, recall). ROC AUC and average precision rank rows "
        "by that prediction.",
    )
    # The curve figures take scores in [0, 1]; ROC and PR curves depend only on the ranking,
    # so min-max scaling the predictions leaves them (and their AUC and AP) unchanged.
    scaled = (score - score.min()) / max(float(np.ptp(score)), np.finfo(float).tiny)
    report.add_figure(
        "roc_curve",
        plots.roc_figure(labels, scaled, classes),
        title="ROC of the threshold view",
        caption=f"Out-of-fold predictions of {target} as scores for {classes[1]}.",
    )
    report.add_figure(
        "pr_curve",
        plots.pr_figure(labels, scaled, classes),
        title="Precision-recall of the threshold view",
        caption=f"Out-of-fold predictions of {target} as scores for {classes[1]}.",
    )
    if history:
        report.history = {key: [float(v) for v in values] for key, values in history.items()}
        report.add_figure(
            "learning_curves",
            plots.learning_curves_figure(history),
            title="Learning curves",
            caption="loss: the training loss averaged over the steps of each point; val_loss: the loss on "
            "the held-out rows of every fold at its end. Recorded only, never used to select anything.",
        )
    report.add_metrics(metrics)  # first, so the metrics keep their documented order
    add_interval_table(
        report,
        intervals,
        what=f"the {len(y_true):,} rows' out-of-fold predictions of "
        f"{results[0].name} (it does not cover refitting on other folds)",
    )
    return metrics


def add_ols_section(report: Report, table: Mapping[str, Any], *, title: str = "OLS fit on all rows") -> None:
    """Adds the OLS inference table and stores it as `report.extra["ols_table"]`.

    Args:
        report: The report to fill.
        table: The dict returned by `pipelines.baselines.ols.ols_table`.
        title: The section title. Defaults to `"OLS fit on all rows"`.
    """
    report.extra["ols_table"] = dict(table)
    report.add_table(
        title,
        [
            {"term": r["term"], "coefficient": r["coef"], "std. error": r["std_err"], "t": r["t"], "p": r["p"]}
            for r in table["terms"]
        ],
        note=f"n = {table['n']}; R^2 = {table['r2']:.4f}, adjusted R^2 = {table['adj_r2']:.4f}, "
        f"RSE = {table['rse']:.4f} on {table['df_resid']} degrees of freedom, F = {table['f']:.1f} "
        f"(p = {table['f_p']:.3g}).",
    )


def add_partial_dependence(
    report: Report,
    models: Mapping[str, Callable[[np.ndarray], np.ndarray]],
    x: np.ndarray,
    features: Sequence[str],
    *,
    target: str = "target",
) -> None:
    """Adds the `partial_dependence` figure of models fitted on all rows.

    Args:
        report: The report to fill.
        models: Name to a predict function `(m, f) -> (m,)`.
        x: The rows to average over, shape `(n, f)`.
        features: Feature names, one per column of `x`.
        target: The target's name, for labels. Defaults to `"target"`.
    """
    report.add_figure(
        "partial_dependence",
        regression_plots.partial_dependence_figure(models, x, features, target=target),
        title="Partial dependence",
        caption=f"Average prediction of each model as one feature sweeps its range, the other features kept at "
        f"their observed values ({', '.join(models)}).",
    )


def add_fit_evaluation(
    report: Report, y_true: np.ndarray, y_pred: np.ndarray, *, target: str = "target"
) -> dict[str, float]:
    """Scores one model's predictions of every row: `r2`, `rmse`, `mae` and the figures.

    For a saved model scored on data it may have trained on (the CLI's `evaluate`), so
    the captions say that this is a fit, not a test score, unless the rows are new.

    Args:
        report: The report to fill.
        y_true: Targets, shape `(n,)`.
        y_pred: Predictions, shape `(n,)`.
        target: The target's name, for labels. Defaults to `"target"`.

    Returns:
        The metrics added, with the bootstrap interval of `r2` (`r2_ci_low/_ci_high`).
    """
    metrics = regression_metrics(y_true, y_pred)
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    intervals = {"r2": bootstrap(r2_stat(y_true, y_pred), len(y_true))}
    metrics.update(interval_metrics(intervals))
    report.add_metrics(metrics)
    add_interval_table(report, intervals, what=f"the {len(y_true):,} rows")
    report.extra.setdefault("headline_metric", "r2")
    report.add_predictions("regression", y_true=y_true, y_pred=y_pred, fingerprint=fingerprint(y_true))
    shown = {"saved model": np.asarray(y_pred, dtype=np.float64).reshape(-1)}
    caption = "Every row of the data: if the model trained on these rows, this is its fit, not a test score."
    report.add_figure(
        "predicted_vs_actual",
        regression_plots.predicted_vs_actual_figure(y_true, shown, unit=target),
        title="Predicted vs actual",
        caption=caption,
    )
    report.add_figure(
        "residuals_vs_fitted",
        regression_plots.residuals_figure(y_true, shown),
        title="Residuals vs fitted",
        caption=caption,
    )
    return metrics
