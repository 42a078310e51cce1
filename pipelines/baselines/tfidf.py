"""The strong linear baseline of binary text classification: TF-IDF n-grams + logistic regression.

A neural text classifier earns its cost only if it beats this, so the defaults are the
strong setting, not a strawman: word 1-2-grams, sublinear term frequency (1 + log tf),
terms kept when in at least 2 training documents, L2-regularized logistic regression
with C = 10. The text is lowercased and HTML tags (IMDB's `<br />`) are replaced by a
space, as in the tf.data step; scikit-learn's tokenizer drops punctuation.

C = 10 was chosen on held-out data only: on a stratified 20 % validation part of the
IMDB training set (seed 0), C = 3, 10, 30, 100 gave 90.34, 90.88, 90.98, 90.90 %; C = 10
is within 0.1 point of the best and fits faster. Measured on the 2-core development
machine: IMDB test accuracy 90.68 % (`baseline_probabilities`; 31 s of CPU, 28 s of it
in the TfidfVectorizer, about 50 s wall while other jobs shared the cores); MR stratified
10-fold cross-validation 78.16 % +- 1.40 (seed 0) in 2.3 s (`cross_validate_baseline`).

Example:
    >>> texts = ["good fun", "great fun", "bad plot", "awful plot"] * 5
    >>> labels = [1, 1, 0, 0] * 5
    >>> p = baseline_probabilities(texts, labels, ["good great", "awful bad"])
    >>> (p > 0.5).tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.config import param, validate_config
from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.splits import stratified_fold_ids
from pipelines.inputs.text import check_texts, check_texts_and_labels, strip_html

__all__ = [
    "BaselineCV",
    "BaselineConfig",
    "baseline_preprocess",
    "baseline_probabilities",
    "cross_validate_baseline",
    "fit_baseline",
    "make_baseline",
]


@dataclass
class BaselineConfig:
    """Settings of the TF-IDF + logistic regression baseline; the defaults are the strong ones."""

    ngram_max: int = param(2, "Longest word n-gram (1 = unigrams, 2 = 1-2-grams).", ge=1, le=3)
    min_df: int = param(2, "Keep terms found in at least this many training documents.", ge=1)
    sublinear_tf: bool = param(True, "Use 1 + log(tf) instead of raw term counts.")
    C: float = param(10.0, "Inverse L2 regularization strength of the logistic regression.", gt=0)
    max_iter: int = param(1000, "Iteration cap of the liblinear solver.", ge=1)


@dataclass(frozen=True)
class BaselineCV:
    """Out-of-fold predictions of the baseline.

    Attributes:
        probabilities: P(label 1) of every example, predicted by the model of the fold
            that held it out, float64 `(n,)`.
        fold_ids: The fold (0..k-1) that holds each example out, int64 `(n,)`.
        fold_accuracies: Accuracy at threshold 0.5 on each held-out fold, `(k,)`.
    """

    probabilities: np.ndarray
    fold_ids: np.ndarray
    fold_accuracies: np.ndarray

    @property
    def accuracy_mean(self) -> float:
        """Mean of the per-fold accuracies."""
        return float(np.mean(self.fold_accuracies))

    @property
    def accuracy_std(self) -> float:
        """Standard deviation (ddof=0) of the per-fold accuracies."""
        return float(np.std(self.fold_accuracies))


def baseline_preprocess(text: str) -> str:
    """Lowercases and replaces HTML tags by a space (the baseline's only normalization).

    Example:
        >>> baseline_preprocess("Great!<br /><br />A MUST")
        'great!  a must'
    """
    return strip_html(text).lower()


def make_baseline(config: BaselineConfig | None = None, *, seed: int = 0) -> Any:
    """The unfitted scikit-learn pipeline `TfidfVectorizer -> LogisticRegression`.

    Args:
        config: The settings. Defaults to `BaselineConfig()`.
        seed: Seed of liblinear's coordinate order. Defaults to `0`.

    Returns:
        A `sklearn.pipeline.Pipeline` with steps `"tfidf"` and `"logreg"`.

    Raises:
        ConfigError: if a setting is out of range.

    Example:
        >>> make_baseline().named_steps["tfidf"].ngram_range
        (1, 2)
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    config = _checked_config(config)
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    ngram_range=(1, config.ngram_max),
                    min_df=config.min_df,
                    sublinear_tf=config.sublinear_tf,
                    preprocessor=baseline_preprocess,
                ),
            ),
            ("logreg", _make_logreg(config, seed)),
        ]
    )


def fit_baseline(
    texts: Sequence[str] | np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    config: BaselineConfig | None = None,
    *,
    seed: int = 0,
) -> Any:
    """Fits the baseline on training texts and 0/1 labels.

    Args:
        texts: The training texts.
        labels: Their 0/1 labels.
        config: The settings. Defaults to `BaselineConfig()`.
        seed: Seed of liblinear's coordinate order. Defaults to `0`.

    Returns:
        The fitted pipeline; `pipeline.predict_proba(texts)[:, 1]` is P(label 1).

    Raises:
        ConfigError: if a setting is out of range.
        DataValidationError: if the texts or labels fail `check_texts_and_labels`.

    Example:
        >>> model = fit_baseline(["good", "bad"] * 4, [1, 0] * 4)
        >>> model.predict(["good", "bad"]).tolist()
        [1, 0]
    """
    x, y, _ = check_texts_and_labels(texts, labels, where="the training texts")
    return make_baseline(config, seed=seed).fit(x, y)


def baseline_probabilities(
    texts_train: Sequence[str] | np.ndarray,
    y_train: Sequence[Any] | np.ndarray,
    texts_test: Sequence[str] | np.ndarray,
    config: BaselineConfig | None = None,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Fits the baseline on the training split and returns P(label 1) on the test texts.

    Args:
        texts_train: The training texts (the vocabulary and idf come from these only).
        y_train: Their 0/1 labels.
        texts_test: The texts to score.
        config: The settings. Defaults to `BaselineConfig()`.
        seed: Seed of liblinear's coordinate order. Defaults to `0`.

    Returns:
        float64 probabilities, `(len(texts_test),)`.

    Raises:
        ConfigError: if a setting is out of range.
        DataValidationError: if the texts or labels are invalid.

    Example:
        >>> p = baseline_probabilities(["good", "bad"] * 4, [1, 0] * 4, ["good"])
        >>> bool(p[0] > 0.5)
        True
    """
    test = check_texts(texts_test, where="the test texts")
    return fit_baseline(texts_train, y_train, config, seed=seed).predict_proba(test)[:, 1]


def cross_validate_baseline(
    texts: Sequence[str] | np.ndarray,
    labels: Sequence[Any] | np.ndarray,
    config: BaselineConfig | None = None,
    *,
    n_splits: int = 10,
    seed: int = 0,
    fold_ids: Sequence[int] | None = None,
) -> BaselineCV:
    """Stratified k-fold cross-validation of the baseline; out-of-fold probabilities.

    Each fold's model learns its vocabulary, idf and weights from its training folds
    only. The n-grams of every text are counted once, then each fold keeps the terms in
    at least `min_df` of its training documents: the same features as a
    `TfidfVectorizer` fitted per fold, without tokenizing the texts k times.

    Args:
        texts: All texts.
        labels: Their 0/1 labels.
        config: The settings. Defaults to `BaselineConfig()`.
        n_splits: The number of folds, when `fold_ids` is not given. Defaults to `10`.
        seed: Seed of the fold assignment and of liblinear. Defaults to `0`.
        fold_ids: A fold id (0..k-1) per example, e.g. from `stratified_fold_ids`, to
            use the same folds as another model. Defaults to `None`.

    Returns:
        A `BaselineCV`.

    Raises:
        ConfigError: if a setting is out of range.
        DataValidationError: if the texts, labels or fold ids are invalid.

    Example:
        >>> texts = ["good fun", "great fun", "bad plot", "awful plot"] * 5
        >>> cv = cross_validate_baseline(texts, [1, 1, 0, 0] * 5, n_splits=5)
        >>> cv.accuracy_mean, cv.fold_ids.shape
        (1.0, (20,))
    """
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    config = _checked_config(config)
    x, y, _ = check_texts_and_labels(texts, labels, where="the texts")
    folds = stratified_fold_ids(y, n_splits, seed) if fold_ids is None else _checked_fold_ids(fold_ids, y)
    # Counting uses no labels; only document frequencies of training folds pick terms.
    counts = CountVectorizer(ngram_range=(1, config.ngram_max), preprocessor=baseline_preprocess).fit_transform(x)
    probabilities = np.empty(len(y), dtype=np.float64)
    accuracies = []
    for fold in range(int(folds.max()) + 1):
        held_out = folds == fold
        train_counts = counts[~held_out]
        kept = np.flatnonzero(train_counts.getnnz(axis=0) >= config.min_df)
        tfidf = TfidfTransformer(sublinear_tf=config.sublinear_tf).fit(train_counts[:, kept])
        logreg = _make_logreg(config, seed).fit(tfidf.transform(train_counts[:, kept]), y[~held_out])
        probabilities[held_out] = logreg.predict_proba(tfidf.transform(counts[held_out][:, kept]))[:, 1]
        accuracies.append(np.mean((probabilities[held_out] > 0.5) == y[held_out]))
    return BaselineCV(probabilities=probabilities, fold_ids=folds, fold_accuracies=np.asarray(accuracies))


# ----------------------------------------------------------------------------- helpers


def _checked_config(config: BaselineConfig | None) -> BaselineConfig:
    if config is None:
        return BaselineConfig()
    if not isinstance(config, BaselineConfig):
        raise ConfigError(f"expected config to be a BaselineConfig or None. Received: {type(config).__name__}")
    validate_config(config)
    return config


def _make_logreg(config: BaselineConfig, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # liblinear's dual solver: with fewer documents than n-gram features it fitted an MR
    # fold in 0.6 s against 4.9 s (primal liblinear) and 3.4 s (lbfgs), same accuracy.
    return LogisticRegression(C=config.C, solver="liblinear", dual=True, max_iter=config.max_iter, random_state=seed)


def _checked_fold_ids(fold_ids: Sequence[int], y: np.ndarray) -> np.ndarray:
    folds = np.asarray(fold_ids)
    if folds.shape != y.shape or folds.dtype.kind not in "iu":
        raise DataValidationError(
            f"expected one integer fold id per example ({len(y)}). Received: fold_ids of "
            f"shape {folds.shape} and dtype {folds.dtype}. Pass stratified_fold_ids(labels)."
        )
    k = int(folds.max()) + 1 if folds.size else 0
    sizes = np.bincount(folds, minlength=k) if folds.size and folds.min() >= 0 else None
    if sizes is None or k < 2 or sizes.min() == 0:
        raise DataValidationError(
            "expected fold ids 0..k-1 with k >= 2, each fold holding examples. Received: "
            f"values {sorted(set(folds.tolist()))[:10]}. Pass stratified_fold_ids(labels)."
        )
    for fold in range(k):
        if len(set(y[folds != fold].tolist())) < 2:
            raise DataValidationError(
                f"expected both classes in the training part of every fold. Received: fold "
                f"{fold}'s training part holds one class. Pass stratified_fold_ids(labels)."
            )
    return folds.astype(np.int64)
