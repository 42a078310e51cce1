"""Tests of pipelines.baselines.tfidf, the TF-IDF + logistic regression baseline, and of the
stratified folds it is cross-validated on (`pipelines.inputs.splits.stratified_fold_ids`)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.baselines.tfidf import (
    BaselineConfig,
    baseline_preprocess,
    baseline_probabilities,
    cross_validate_baseline,
    fit_baseline,
    make_baseline,
)
from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.splits import stratified_fold_ids

POSITIVE = ["great", "superb", "moving", "delightful", "charming"]
NEGATIVE = ["dull", "awful", "tedious", "clumsy", "bland"]
NEUTRAL = [f"n{i}" for i in range(30)]


def _sentiment_task(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts of neutral words plus 1-2 polar words; 10 % of labels flipped."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        polar = rng.choice(POSITIVE if label else NEGATIVE, rng.integers(1, 3))
        words = list(rng.choice(NEUTRAL, rng.integers(4, 12))) + list(polar)
        rng.shuffle(words)
        texts.append(" ".join(words))
    flipped = rng.random(n) < 0.1
    return texts, np.where(flipped, 1 - labels, labels)


def _bigram_task(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Each word occurs equally in both classes; only the pairs tell them apart."""
    rng = np.random.default_rng(seed)
    phrases = {1: ["very good", "not bad"], 0: ["very bad", "not good"]}
    labels = rng.integers(0, 2, n)
    texts = [" ".join(list(rng.choice(NEUTRAL, 3)) + [rng.choice(phrases[label])]) for label in labels]
    return texts, labels


def test_baseline_beats_chance_on_a_small_synthetic_task():
    texts, labels = _sentiment_task(600, seed=0)

    p = baseline_probabilities(texts[:400], labels[:400], texts[400:])

    assert p.shape == (200,) and ((0 <= p) & (p <= 1)).all()
    accuracy = np.mean((p > 0.5) == labels[400:])
    assert accuracy > 0.8  # chance is 0.5; 10 % label noise caps it near 0.9


def test_the_default_baseline_uses_bigrams():
    texts, labels = _bigram_task(400, seed=1)

    def accuracy(config):
        p = baseline_probabilities(texts[:300], labels[:300], texts[300:], config)
        return np.mean((p > 0.5) == labels[300:])

    assert accuracy(None) == 1.0
    assert accuracy(BaselineConfig(ngram_max=1)) < 0.7


def test_defaults_are_the_strong_setting():
    steps = make_baseline().named_steps
    tfidf, logreg = steps["tfidf"], steps["logreg"]
    assert tfidf.ngram_range == (1, 2) and tfidf.sublinear_tf and tfidf.min_df == 2
    assert tfidf.preprocessor is baseline_preprocess
    assert logreg.C == 10.0


def test_preprocessing_strips_tags_and_the_vocabulary_comes_from_training_texts():
    model = fit_baseline(["Great<br />fun", "great fun<br /><br />", "dull<br />plot", "dull plot"], [1, 1, 0, 0])

    vocabulary = set(model.named_steps["tfidf"].vocabulary_)
    assert vocabulary == {"great", "fun", "great fun", "dull", "plot", "dull plot"}
    assert baseline_preprocess("A<br />B <i>C</i>") == "a b  c "


def test_min_df_drops_terms_of_a_single_training_document():
    model = fit_baseline(["good film", "good plot", "bad film", "bad zanzibar"], [1, 1, 0, 0])
    assert "zanzibar" not in model.named_steps["tfidf"].vocabulary_
    model = fit_baseline(["good film", "good plot", "bad film", "bad zanzibar"], [1, 1, 0, 0], BaselineConfig(min_df=1))
    assert "zanzibar" in model.named_steps["tfidf"].vocabulary_


def test_stratified_fold_ids_are_balanced_and_seeded():
    labels = np.array([0] * 30 + [1] * 20)

    ids = stratified_fold_ids(labels, n_splits=10, seed=3)

    assert ids.dtype == np.int64 and sorted(set(ids.tolist())) == list(range(10))
    for fold in range(10):
        assert np.bincount(labels[ids == fold], minlength=2).tolist() == [3, 2]
    np.testing.assert_array_equal(ids, stratified_fold_ids(labels, 10, seed=3))
    assert not np.array_equal(ids, stratified_fold_ids(labels, 10, seed=4))


def test_cross_validation_matches_a_vectorizer_fitted_per_fold():
    from sklearn.model_selection import PredefinedSplit, cross_val_predict

    texts, labels = _sentiment_task(300, seed=2)
    fold_ids = stratified_fold_ids(labels, n_splits=5, seed=0)

    cv = cross_validate_baseline(texts, labels, fold_ids=fold_ids)

    reference = cross_val_predict(
        make_baseline(), np.array(texts, dtype=object), labels, cv=PredefinedSplit(fold_ids), method="predict_proba"
    )[:, 1]
    np.testing.assert_allclose(cv.probabilities, reference, atol=1e-3)
    np.testing.assert_array_equal(cv.fold_ids, fold_ids)
    expected = [np.mean((reference[fold_ids == k] > 0.5) == labels[fold_ids == k]) for k in range(5)]
    np.testing.assert_allclose(cv.fold_accuracies, expected, atol=0.02)
    assert cv.accuracy_mean == pytest.approx(np.mean(cv.fold_accuracies))
    assert cv.accuracy_mean > 0.75


def test_cross_validation_is_seeded():
    texts, labels = _sentiment_task(200, seed=5)
    first = cross_validate_baseline(texts, labels, n_splits=4, seed=1)
    np.testing.assert_array_equal(
        first.probabilities, cross_validate_baseline(texts, labels, n_splits=4, seed=1).probabilities
    )
    assert not np.array_equal(first.fold_ids, cross_validate_baseline(texts, labels, n_splits=4, seed=2).fold_ids)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: make_baseline(BaselineConfig(C=0.0)), ConfigError, r"C must be > 0\. Received: C=0\.0"),
        (lambda: make_baseline(BaselineConfig(ngram_max=4)), ConfigError, r"ngram_max must be <= 3"),
        (lambda: make_baseline({"C": 1.0}), ConfigError, r"BaselineConfig or None\. Received: dict"),
        (lambda: fit_baseline(["a", "b"], [1, 1]), DataValidationError, r"both classes"),
        (lambda: fit_baseline(["a", ""], [1, 0]), DataValidationError, r"1 empty or whitespace-only"),
        (lambda: baseline_probabilities(["a", "b"], [0, 1], "a b"), TypeError, r"single str"),
        (
            lambda: stratified_fold_ids([0, 1] * 3, n_splits=5),
            DataValidationError,
            r"at least n_splits=5 examples of each class.*Received 3",
        ),
        (lambda: stratified_fold_ids([0, 1, 2]), DataValidationError, r"labels 0/1"),
        (lambda: stratified_fold_ids([0, 1] * 10, n_splits=1), ConfigError, r"n_splits to be an integer >= 2"),
        (
            lambda: cross_validate_baseline(["a", "b", "c", "d"], [0, 1, 0, 1], fold_ids=[0, 0, 0, 0]),
            DataValidationError,
            r"fold ids 0\.\.k-1 with k >= 2",
        ),
        (
            lambda: cross_validate_baseline(["a", "b", "c", "d"], [0, 1, 0, 1], fold_ids=[0, 1]),
            DataValidationError,
            r"one integer fold id per example \(4\)",
        ),
        (
            lambda: cross_validate_baseline(["a", "b", "c", "d"], [0, 0, 1, 1], fold_ids=[0, 0, 1, 1]),
            DataValidationError,
            r"both classes in the training part of every fold",
        ),
    ],
    ids=[
        "C",
        "ngram",
        "config-type",
        "one-class",
        "empty-text",
        "single-string",
        "few-per-class",
        "bad-label",
        "one-split",
        "one-fold",
        "fold-length",
        "fold-one-class",
    ],
)
def test_bad_arguments_are_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.realdata
@pytest.mark.slow
def test_real_mr_ten_fold_baseline(real_data_dir):
    from pipelines.inputs.text import load_mr

    data = load_mr(real_data_dir)

    cv = cross_validate_baseline(data.texts_train, data.y_train, n_splits=10, seed=0)

    assert cv.accuracy_mean >= 0.76  # Kim 2014's CNN-rand reached 76.1 %
    assert len(cv.fold_accuracies) == 10 and np.bincount(cv.fold_ids).min() >= 1066


@pytest.mark.realdata
@pytest.mark.slow
def test_real_imdb_baseline(real_data_dir):
    from pipelines.inputs.text import load_imdb

    data = load_imdb(real_data_dir)

    p = baseline_probabilities(data.texts_train, data.y_train, data.texts_test)

    assert np.mean((p > 0.5) == data.y_test) >= 0.90  # measured 90.68 %
