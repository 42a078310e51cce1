"""Tests of the generative metrics: Frechet distance, Inception Score, class coverage, sample grids."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from pipelines.errors import DataValidationError
from pipelines.evaluation.generative import (
    class_coverage,
    classifier_features,
    feature_statistics,
    frechet_distance,
    inception_score,
    sample_grid_figure,
)


def _random_spd(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    # For diagonal covariances the distance is sum((m1-m2)^2) + sum((sqrt(v1) - sqrt(v2))^2).
    rng = np.random.default_rng(0)
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    v1, v2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_scipy_sqrtm_for_full_covariances():
    rng = np.random.default_rng(1)
    m1, m2 = rng.standard_normal(6), rng.standard_normal(6)
    s1, s2 = _random_spd(6, rng), _random_spd(6, rng)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_sampled_gaussians_approaches_the_closed_form():
    # Statistics estimated from 200k samples of N(0, I) and N(1, 4I) in 3-D: 3 + 3 * (2 - 1)^2 = 6.
    rng = np.random.default_rng(2)
    a = rng.standard_normal((200_000, 3))
    b = 1.0 + 2.0 * rng.standard_normal((200_000, 3))
    assert frechet_distance(*feature_statistics(a), *feature_statistics(b)) == pytest.approx(6.0, rel=0.01)


def test_frechet_distance_of_a_set_with_itself_is_zero_even_for_singular_covariances():
    rng = np.random.default_rng(3)
    # 50 features of rank 10: a singular covariance, where sqrtm of a product can turn complex.
    features = rng.standard_normal((400, 10)) @ rng.standard_normal((10, 50))
    stats = feature_statistics(features)
    assert frechet_distance(*stats, *stats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(DataValidationError, match="expected means"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_fid_of_the_test_set_against_itself_is_about_zero_and_against_noise_is_large():
    keras = pytest.importorskip("keras")
    from pipelines.nets.cnn import make_cnn

    keras.utils.set_random_seed(0)
    classifier = make_cnn((28, 28, 1), 10, stem_filters=8, filters=(16,))
    rng = np.random.default_rng(0)
    digits = np.zeros((500, 28, 28, 1), "float32")
    for i in range(500):  # bars at ten positions, standing in for ten digit classes
        digits[i, 4:24, 2 + 2 * (i % 10) : 5 + 2 * (i % 10)] = 1.0
    digits += 0.05 * rng.random(digits.shape).astype("float32")
    f_test, proba = classifier_features(classifier, digits)
    assert f_test.shape == (500, 4 * 4 * 16) and np.allclose(proba.sum(axis=1), 1)
    stats = feature_statistics(f_test)
    assert frechet_distance(*stats, *stats) == pytest.approx(0.0, abs=1e-6)
    f_noise, _ = classifier_features(classifier, rng.random((500, 28, 28, 1)).astype("float32"))
    assert frechet_distance(*feature_statistics(f_noise), *stats) > 1e-3
    # A calibrated classifier (calibrate=temperature) gives the same features, and its own probabilities.
    from pipelines.calibration import with_temperature

    f_calibrated, p_calibrated = classifier_features(with_temperature(classifier, 2.0), digits)
    np.testing.assert_allclose(f_calibrated, f_test, rtol=1e-5)
    assert not np.allclose(p_calibrated, proba)


def test_inception_score_is_the_number_of_classes_for_confident_balanced_samples_and_one_for_collapse():
    k = 10
    assert inception_score(np.eye(k)[np.arange(1000) % k])[0] == pytest.approx(k)
    assert inception_score(np.eye(k)[np.zeros(1000, int)])[0] == pytest.approx(1.0)
    assert inception_score(np.full((1000, k), 1 / k))[0] == pytest.approx(1.0)
    with pytest.raises(DataValidationError, match="rows sum to 1"):
        inception_score(np.ones((10, 3)))


def test_class_coverage_of_balanced_skewed_and_collapsed_samples():
    balanced = class_coverage(np.arange(1000) % 10, 10)
    assert balanced["class_entropy"] == pytest.approx(np.log(10))
    assert balanced["min_class_fraction"] == balanced["max_class_fraction"] == pytest.approx(0.1)
    skewed = class_coverage(np.array([0] * 70 + [1] * 20 + [2] * 10), 4)
    assert skewed["counts"] == [70, 20, 10, 0]
    assert skewed["min_class_fraction"] == 0.0 and skewed["max_class_fraction"] == pytest.approx(0.7)
    assert skewed["class_entropy"] == pytest.approx(-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)))
    collapsed = class_coverage(np.full(50, 3), 10)
    assert collapsed["class_entropy"] == 0.0 and collapsed["max_class_fraction"] == 1.0
    with pytest.raises(DataValidationError, match=r"class indices in \[0, 10\)"):
        class_coverage(np.array([10]), 10)


def test_sample_grid_labels_one_row_per_class():
    fig = sample_grid_figure(np.zeros((30, 28, 28, 1)), ncols=10, row_labels=["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]
    with pytest.raises(DataValidationError, match="multiple of ncols"):
        sample_grid_figure(np.zeros((7, 28, 28)), ncols=10)
