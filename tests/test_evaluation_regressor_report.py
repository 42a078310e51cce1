"""Tests of pipelines.evaluation.regressor_report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines.baselines.ols import ols_table
from pipelines.errors import DataValidationError
from pipelines.evaluation.classification import binary_metrics
from pipelines.evaluation.regression import cv_metrics
from pipelines.evaluation.regressor_report import CVResult, add_ols_section, add_regression_evaluation
from pipelines.evaluation.report import Report
from pipelines.inputs.splits import kfold_ids

RNG = np.random.default_rng(0)
Y = RNG.normal(10.0, 3.0, 60)
IDS = kfold_ids(60, 5, seed=0)
GOOD = CVResult("MLP", "", Y + RNG.normal(0, 0.5, 60), 1.5)
BAD = CVResult("OLS", "ols_", Y + RNG.normal(0, 2.0, 60), 0.01)


def test_metrics_tables_and_figures(tmp_path):
    report = Report("demo")
    threshold = float(np.median(Y))
    metrics = add_regression_evaluation(
        report,
        Y,
        IDS,
        [GOOD, BAD],
        threshold=threshold,
        target="sales",
        history={"loss": [2.0, 1.0], "val_loss": [2.5, 1.5]},
    )
    assert metrics["cv_r2_mean"] == cv_metrics(Y, GOOD.oof, IDS)["cv_r2_mean"]
    assert {"ols_cv_r2_mean", "ols_cv_rmse_std", "roc_auc", "average_precision", "f1"} <= set(metrics)
    labels = (Y > threshold).astype(int)
    assert metrics["roc_auc"] == binary_metrics(labels, GOOD.oof, threshold=threshold)["roc_auc"]
    data = report.to_dict()
    assert data["metrics"] == metrics
    assert [row["model"] for row in data["tables"]["Cross-validation (5 folds)"]] == ["MLP", "OLS"]
    assert data["figures"] == [
        "predicted_vs_actual.png",
        "residuals_vs_fitted.png",
        "roc_curve.png",
        "pr_curve.png",
        "learning_curves.png",
    ]
    assert data["history"]["val_loss"] == [2.5, 1.5]


def test_threshold_outside_the_targets_is_rejected():
    with pytest.raises(DataValidationError, match=r"threshold inside the target's range.*threshold=1000"):
        add_regression_evaluation(Report("demo"), Y, IDS, [GOOD], threshold=1000.0)


def test_ols_section_is_stored_under_extra(tmp_path):
    x = RNG.random((60, 2))
    report = Report("demo")
    add_ols_section(report, ols_table(x, Y, ["a", "b"]))
    report.write(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert [row["term"] for row in data["ols_table"]["terms"]] == ["Intercept", "a", "b"]
    assert "OLS fit on all rows" in data["tables"]
    assert "adjusted R^2" in (tmp_path / "report.md").read_text()
