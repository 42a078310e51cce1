"""Tests of pipelines.evaluation.anomaly: errors, the [0, 1] map, and the threshold chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pipelines.errors import DataValidationError
from pipelines.evaluation.anomaly import add_anomaly_evaluation, reconstruction_errors, unit_scores
from pipelines.evaluation.classification import binary_metrics
from pipelines.evaluation.report import Report


def test_reconstruction_errors_are_per_image_mse():
    images = np.zeros((2, 3, 3, 1))
    recon = np.stack([np.full((3, 3, 1), 0.5), np.zeros((3, 3, 1))])
    np.testing.assert_allclose(reconstruction_errors(images, recon), [0.25, 0.0])
    with pytest.raises(DataValidationError, match="one shape"):
        reconstruction_errors(images, recon[:1])


def test_unit_scores_are_in_0_1_and_keep_the_ranking():
    errors = np.random.default_rng(0).gamma(2.0, 0.01, size=500)
    y = (np.random.default_rng(1).random(500) < errors / errors.max()).astype(int)
    scores = unit_scores(errors, scale=float(np.median(errors)))
    assert scores.min() >= 0 and scores.max() < 1
    assert np.array_equal(np.argsort(scores, kind="stable"), np.argsort(errors, kind="stable"))
    assert roc_auc_score(y, scores) == pytest.approx(roc_auc_score(y, errors))
    assert average_precision_score(y, scores) == pytest.approx(average_precision_score(y, errors))
    assert unit_scores(np.array([2.0]), 2.0)[0] == 0.5
    with pytest.raises(DataValidationError, match="positive, finite scale"):
        unit_scores(errors, 0.0)
    with pytest.raises(DataValidationError, match="non-negative errors"):
        unit_scores(np.array([-1.0]), 1.0)


def test_threshold_comes_from_validation_not_test():
    rng = np.random.default_rng(2)
    y_val = np.r_[np.zeros(200, int), np.ones(20, int)]
    val_errors = np.r_[rng.uniform(0.0, 1.0, 200), rng.uniform(2.0, 3.0, 20)]  # separable at any cut in (1, 2)
    y_test = np.r_[np.zeros(300, int), np.ones(30, int)]
    test_errors = np.r_[rng.uniform(0.0, 1.0, 300), rng.uniform(0.8, 3.0, 30)]  # overlap: test F1 < 1
    report = Report("demo")
    metrics = add_anomaly_evaluation(report, y_test, test_errors, y_val, val_errors, anomaly_name="class 0")

    scale = np.median(val_errors[:200])
    threshold = metrics["anomaly_threshold"]
    assert metrics["anomaly_score_scale"] == pytest.approx(scale)
    assert threshold == pytest.approx(2.0 / (2.0 + scale), abs=0.05)  # the smallest anomalous val score
    assert metrics["anomaly_val_f1"] == 1.0
    expected = binary_metrics(y_test, test_errors / (test_errors + scale), threshold=threshold)
    assert metrics["anomaly_f1"] == pytest.approx(expected["f1"]) and metrics["anomaly_f1"] < 1
    assert metrics["anomaly_roc_auc"] == pytest.approx(roc_auc_score(y_test, test_errors))
    # The raw-error cut decides exactly as the score cut does.
    raw = test_errors >= metrics["anomaly_threshold_error"] * (1 - 1e-12)
    np.testing.assert_array_equal(raw, test_errors / (test_errors + scale) >= threshold)
    data = report.to_dict()
    assert {"anomaly_roc.png", "anomaly_pr.png", "anomaly_scores.png"} <= set(data["figures"])
    assert data["metrics"]["anomaly_average_precision"] == pytest.approx(average_precision_score(y_test, test_errors))


def test_validation_needs_both_classes():
    with pytest.raises(DataValidationError, match="both classes"):
        add_anomaly_evaluation(
            Report("demo"), np.array([0, 1]), np.array([0.1, 0.2]), np.array([0, 0]), np.array([0.1, 0.2])
        )
