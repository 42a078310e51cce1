"""Tests of pipelines.evaluation.regression: metrics, folds, and their aggregation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import KFold

from pipelines.errors import DataValidationError
from pipelines.evaluation.regression import cv_metrics, regression_metrics
from pipelines.inputs.splits import fold_train_mask, kfold_ids


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    m = regression_metrics(y, p[:, None])
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))


def test_kfold_ids_follow_seeded_shuffled_kfold():
    ids = kfold_ids(23, 5, seed=3)
    for k, (_, held_out) in enumerate(KFold(5, shuffle=True, random_state=3).split(np.zeros(23))):
        np.testing.assert_array_equal(np.flatnonzero(ids == k), held_out)
    assert not np.array_equal(ids, kfold_ids(23, 5, seed=4))


@pytest.mark.parametrize("n,folds", [(5, 6), (10, 1)])
def test_kfold_ids_reject_bad_fold_counts(n, folds):
    with pytest.raises(DataValidationError, match=f"expected 2 <= folds <= number of rows. Received: folds={folds}"):
        kfold_ids(n, folds, seed=0)


def test_train_mask_excludes_exactly_the_own_fold():
    ids = kfold_ids(12, 4, seed=0)
    mask = fold_train_mask(ids)
    assert mask.shape == (12, 5) and mask[:, 4].all()
    for k in range(4):
        np.testing.assert_array_equal(mask[:, k], ids != k)
    assert fold_train_mask(ids, with_full=False).shape == (12, 4)


def test_cv_metrics_are_fold_means_with_sample_std():
    rng = np.random.default_rng(1)
    y, oof = rng.normal(size=40), rng.normal(size=40)
    ids = kfold_ids(40, 4, seed=0)
    per_fold = [np.sqrt(np.mean((y[ids == k] - oof[ids == k]) ** 2)) for k in range(4)]
    m = cv_metrics(y, oof, ids, prefix="ols_")
    assert m["ols_cv_rmse_mean"] == pytest.approx(np.mean(per_fold))
    assert m["ols_cv_rmse_std"] == pytest.approx(np.std(per_fold, ddof=1))
    assert list(m) == [f"ols_cv_{name}_{stat}" for name in ("r2", "rmse", "mae") for stat in ("mean", "std")]


def test_non_finite_predictions_are_rejected():
    with pytest.raises(DataValidationError, match="expected finite targets and predictions"):
        regression_metrics(np.ones(3), np.array([1.0, np.nan, 2.0]))
    with pytest.raises(DataValidationError, match=r"same shape \(n,\)"):
        regression_metrics(np.ones(3), np.ones(4))
