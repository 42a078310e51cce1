"""The vectorized bootstrap against a slow reference: a Python loop of scikit-learn calls."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from pipelines.errors import DataValidationError
from pipelines.evaluation import bootstrap as bs

B = 200  # resamples of the reference loop; the production default is 1,000


def reference_values(indices, fn):
    """The metric of each resample by indexing the data and calling scikit-learn."""
    out = []
    for idx in indices:
        try:
            out.append(fn(idx))
        except ValueError:  # scikit-learn refuses an AUC with one class
            out.append(np.nan)
    return np.array(out, dtype=float)


def vectorized_values(stat, indices, n):
    return stat(bs.count_matrix(indices, n))


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(3)
    n, k = 60, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba[:5] = proba[0]  # ties in the scores, which the AUC must count as one half
    return y, proba


def test_count_matrix_counts_draws():
    counts = bs.count_matrix(np.array([[0, 0, 2], [1, 1, 1]]), 4)
    np.testing.assert_array_equal(counts, [[2, 0, 1, 0], [0, 3, 0, 0]])


def test_classification_statistics_match_scikit_learn_per_resample(multiclass):
    y, proba = multiclass
    n, k = proba.shape
    pred = proba.argmax(1)
    onehot = np.eye(k)[y]
    idx = bs.resample_indices(n, n_resamples=B, seed=7)
    cases = [
        (bs.accuracy_stat(y, pred), lambda i: skm.accuracy_score(y[i], pred[i])),
        (
            bs.f1_macro_stat(y, pred, k),
            lambda i: skm.f1_score(y[i], pred[i], labels=np.arange(k), average="macro", zero_division=0),
        ),
        (bs.roc_auc_macro_stat(y, proba), lambda i: skm.roc_auc_score(onehot[i], proba[i], average="macro")),
    ]
    for stat, ref in cases:
        got, want = vectorized_values(stat, idx, n), reference_values(idx, ref)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=0, atol=1e-12)


def test_binary_and_regression_statistics_match_scikit_learn_per_resample():
    rng = np.random.default_rng(0)
    n = 40
    y = rng.integers(0, 2, n)
    score = np.round(np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1), 1)  # rounded: many ties
    target = rng.normal(size=n)
    pred = target + rng.normal(scale=0.5, size=n)
    idx = bs.resample_indices(n, n_resamples=B, seed=1)
    cases = [
        (bs.roc_auc_binary_stat(y, score), lambda i: skm.roc_auc_score(y[i], score[i])),
        (
            bs.f1_binary_stat(y, (score >= 0.5).astype(int)),
            lambda i: skm.f1_score(y[i], (score[i] >= 0.5).astype(int), zero_division=0),
        ),
        (bs.r2_stat(target, pred), lambda i: skm.r2_score(target[i], pred[i])),
        (bs.mean_stat(pred), lambda i: float(np.mean(pred[i]))),
    ]
    for stat, ref in cases:
        np.testing.assert_allclose(vectorized_values(stat, idx, n), reference_values(idx, ref), rtol=0, atol=1e-12)


def test_intervals_equal_the_reference_percentiles(multiclass):
    y, proba = multiclass
    n = len(y)
    got = bs.classification_intervals(y, proba, n_resamples=B, seed=5)
    idx = bs.resample_indices(n, n_resamples=B, seed=5)
    pred = proba.argmax(1)
    ref = reference_values(idx, lambda i: skm.accuracy_score(y[i], pred[i]))
    assert got["accuracy"].estimate == skm.accuracy_score(y, pred)
    assert (got["accuracy"].low, got["accuracy"].high) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])))
    assert got["accuracy"].resamples == B
    auc = skm.roc_auc_score(np.eye(proba.shape[1])[y], proba, average="macro")
    assert got["roc_auc_ovr_macro"].estimate == pytest.approx(auc, abs=1e-12)
    assert got["roc_auc_ovr_macro"].low < auc < got["roc_auc_ovr_macro"].high


def test_undefined_resamples_are_left_out_and_counted():
    y = np.array([1] + [0] * 19)  # one positive: about a third of resamples draw none
    score = np.linspace(0, 1, 20)
    ci = bs.bootstrap(bs.roc_auc_binary_stat(y, score), 20, n_resamples=300, seed=0)
    assert 0 < ci.resamples < 300


def test_seeded_and_default_size():
    assert bs.resample_indices(50).shape == (1000, 50)
    np.testing.assert_array_equal(bs.resample_indices(5, seed=2), bs.resample_indices(5, seed=2))
    assert not np.array_equal(bs.resample_indices(5, seed=2), bs.resample_indices(5, seed=3))


def test_resamples_draw_every_item_uniformly():
    # The other tests build their references from resample_indices itself, so a biased draw
    # (say, never the last item) would pass them all.
    idx = bs.resample_indices(5, n_resamples=200, seed=0)
    assert idx.min() == 0 and idx.max() == 4
    np.testing.assert_allclose(bs.count_matrix(idx, 5).mean(axis=0), 1.0, atol=0.15)


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.9, y, 1 - y)
    bad = np.where(rng.random(400) < 0.7, y, 1 - y)
    diff, p = bs.paired_bootstrap(bs.accuracy_stat(y, bad), bs.accuracy_stat(y, good), 400)
    assert diff.estimate == pytest.approx(np.mean(good == y) - np.mean(bad == y))
    assert diff.low > 0 and p < 0.01
    same, p_same = bs.paired_bootstrap(bs.accuracy_stat(y, good), bs.accuracy_stat(y, good), 400)
    assert same.estimate == 0 and p_same == 1.0


def test_bad_sizes_are_refused():
    with pytest.raises(DataValidationError, match="n_resamples=0"):
        bs.resample_indices(3, n_resamples=0)
