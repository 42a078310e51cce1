"""Bootstrap confidence intervals of the headline metrics, vectorized over resamples.

A bootstrap resample of a test set of `n` items draws `n` item indices with replacement.
Every metric here depends on a resample only through how many times it draws each item,
so the resamples are held as a count matrix `C` of shape `(B, n)` (`C[b, i]` = copies of
item `i` in resample `b`), and each metric of all `B` resamples is one weighted sum:
accuracy is `C @ correct / n`, the confusion counts behind F1 are `C @ one_hot`, R^2 needs
`C @ y`, `C @ y**2` and `C @ residual**2`, and the ROC AUC is a weighted Mann-Whitney
statistic over the negatives' scores sorted once. `C` is built in chunks of resamples, so memory
stays at `chunk * n` floats whatever `B`.

The interval is the percentile interval (2.5th and 97.5th percentiles of the resampled
metric). A resample in which a metric is undefined (an AUC whose resample drew no
positive) is left out, and the number of resamples used is returned beside the interval.

Example:
    >>> y = np.array([0, 1] * 50)
    >>> proba = np.stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1], axis=1)
    >>> ci = classification_intervals(y, proba, n_resamples=200, seed=0)
    >>> ci["accuracy"].low, ci["accuracy"].high
    (1.0, 1.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from pipelines.errors import DataValidationError

__all__ = [
    "Interval",
    "N_RESAMPLES",
    "CONFIDENCE",
    "resample_indices",
    "count_matrix",
    "bootstrap",
    "bootstrap_many",
    "paired_bootstrap",
    "accuracy_stat",
    "f1_macro_stat",
    "f1_binary_stat",
    "roc_auc_macro_stat",
    "roc_auc_binary_stat",
    "r2_stat",
    "mean_stat",
    "classification_intervals",
    "binary_intervals",
    "interval_metrics",
    "interval_rows",
]

N_RESAMPLES = 1000
CONFIDENCE = 0.95
# Resamples per count-matrix chunk: 100 x 25,000 IMDB test texts is 20 MB of float64.
_CHUNK = 100

# A batched statistic: a (b, n) count matrix -> (b,) metric values (NaN where undefined).
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval.

    Attributes:
        estimate: The metric on the test set itself.
        low: The lower bound (the `(1 - confidence) / 2` quantile of the resamples).
        high: The upper bound.
        resamples: Resamples in which the metric was defined, out of those drawn.
    """

    estimate: float
    low: float
    high: float
    resamples: int


def resample_indices(n: int, *, n_resamples: int = N_RESAMPLES, seed: int = 0) -> np.ndarray:
    """The `(n_resamples, n)` item indices of seeded bootstrap resamples.

    The same `n` and `seed` give the same matrix, so two models scored on the same test
    set are resampled identically (a paired bootstrap).

    Args:
        n: Items in the test set, `n >= 1`.
        n_resamples: Resamples. Defaults to `1000`.
        seed: Seed of NumPy's `default_rng`. Defaults to `0`.

    Returns:
        int64 indices in `[0, n)`.

    Raises:
        DataValidationError: `n` or `n_resamples` is not positive.

    Example:
        >>> resample_indices(3, n_resamples=2, seed=0).shape
        (2, 3)
    """
    if n < 1 or n_resamples < 1:
        raise DataValidationError(f"expected n >= 1 and n_resamples >= 1. Received: n={n}, n_resamples={n_resamples}")
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def count_matrix(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each resample in `indices` `(b, m)` draws each of `n` items: float64 `(b, n)`.

    Example:
        >>> count_matrix(np.array([[0, 0, 2]]), 3).tolist()
        [[2.0, 0.0, 1.0]]
    """
    b = len(indices)
    # One bincount over row-offset indices counts every row at once.
    flat = (indices + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap(
    statistic: Statistic,
    n: int,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The percentile bootstrap interval of a batched statistic of an `n`-item test set.

    Args:
        statistic: Maps a `(b, n)` count matrix to the `(b,)` metric values; the test set
            itself is the all-ones row.
        n: Items in the test set.
        n_resamples: Resamples. Defaults to `1000`.
        seed: Seed of the resamples. Defaults to `0`.
        confidence: Coverage of the interval. Defaults to `0.95`.

    Returns:
        The `Interval`; bounds are NaN when no resample defines the metric.

    Example:
        >>> values = np.arange(10.0)
        >>> ci = bootstrap(mean_stat(values), 10, n_resamples=500, seed=1)
        >>> ci.estimate, ci.low < 4.5 < ci.high
        (4.5, True)
    """
    estimate = float(statistic(np.ones((1, n)))[0])
    values = np.concatenate(list(_resampled(statistic, n, n_resamples, seed)))
    return _interval(estimate, values, confidence)


def paired_bootstrap(
    statistic_a: Statistic,
    statistic_b: Statistic,
    n: int,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> tuple[Interval, float]:
    """The interval of `b - a` on shared resamples, and a two-sided bootstrap p-value.

    Both statistics see the same resamples of the same test set, so the interval and
    the test account for the correlation between the two models' errors. The p-value is
    `min(1, 2 * min(P(d <= 0), P(d >= 0)))` over the resampled differences `d`.

    Example:
        >>> a, b = np.zeros(50), np.ones(50)
        >>> diff, p = paired_bootstrap(mean_stat(a), mean_stat(b), 50, n_resamples=200)
        >>> diff.estimate, p
        (1.0, 0.0)
    """
    estimate = float(statistic_b(np.ones((1, n)))[0] - statistic_a(np.ones((1, n)))[0])
    diffs = np.concatenate([statistic_b(c) - statistic_a(c) for c in _chunks(n, n_resamples, seed)])
    interval = _interval(estimate, diffs, confidence)
    finite = diffs[np.isfinite(diffs)]
    if finite.size == 0:
        return interval, float("nan")
    p = 2 * min(np.mean(finite <= 0), np.mean(finite >= 0))
    return interval, float(min(1.0, p))


def bootstrap_many(
    stats: Mapping[str, Statistic], n: int, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Interval]:
    """`bootstrap` of several statistics of one test set, on the same resamples.

    Example:
        >>> ci = bootstrap_many({"mean": mean_stat(np.ones(4))}, 4, n_resamples=10)
        >>> ci["mean"].low, ci["mean"].high
        (1.0, 1.0)
    """
    return _many(stats, n, n_resamples, seed)


# ------------------------------------------------------------------- batched statistics


def accuracy_stat(y_true: np.ndarray, y_pred: np.ndarray) -> Statistic:
    """Accuracy of every resample: the weighted share of correct predictions."""
    correct = (np.asarray(y_true) == np.asarray(y_pred)).astype(np.float64)
    return lambda counts: counts @ correct / counts.sum(axis=1)


def f1_macro_stat(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> Statistic:
    """Macro F1 over the `k` labels, as `f1_score(average="macro", labels=range(k), zero_division=0)`.

    Per class, F1 = 2 TP / (true count + predicted count); a class neither present nor
    predicted scores 0, as scikit-learn's `zero_division=0` does.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    true_1h, pred_1h = np.eye(k)[y_true], np.eye(k)[y_pred]
    hit_1h = true_1h * (y_true == y_pred)[:, None]

    def stat(counts: np.ndarray) -> np.ndarray:
        tp, support, predicted = counts @ hit_1h, counts @ true_1h, counts @ pred_1h
        denom = support + predicted
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
        return f1.mean(axis=1)

    return stat


def f1_binary_stat(y_true: np.ndarray, y_pred: np.ndarray) -> Statistic:
    """F1 of class 1, as `f1_score(y_true, y_pred, zero_division=0)`."""
    y_true, y_pred = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    hit, true, pred = (v.astype(np.float64) for v in (y_true & y_pred, y_true, y_pred))

    def stat(counts: np.ndarray) -> np.ndarray:
        denom = counts @ true + counts @ pred
        return np.divide(2 * (counts @ hit), denom, out=np.zeros_like(denom), where=denom > 0)

    return stat


def roc_auc_binary_stat(y_true: np.ndarray, score: np.ndarray) -> Statistic:
    """ROC AUC of `score` for `y_true == 1`, as `roc_auc_score`; NaN without both classes.

    The AUC is the probability that a random positive outscores a random negative, ties
    counting one half (Mann-Whitney). With item weights `w` it is
    `sum_i w_i * (W_neg below s_i + W_neg tied with s_i / 2) / (W_pos * W_neg)` over the
    positives `i`. The negatives are sorted once; a cumulative sum of their weights, read
    at each positive's precomputed rank (`searchsorted`), gives both terms exactly.
    """
    positive = np.asarray(y_true) == 1
    score = np.asarray(score, dtype=np.float64)
    neg_order = np.flatnonzero(~positive)[np.argsort(score[~positive], kind="stable")]
    pos_items = np.flatnonzero(positive)
    neg_sorted = score[neg_order]
    below = np.searchsorted(neg_sorted, score[pos_items], side="left")
    up_to = np.searchsorted(neg_sorted, score[pos_items], side="right")

    def stat(counts: np.ndarray) -> np.ndarray:
        # neg_cum[:, j]: weight of the j lowest-scored negatives (a leading 0 column).
        neg_cum = np.zeros((len(counts), len(neg_order) + 1))
        np.cumsum(counts[:, neg_order], axis=1, out=neg_cum[:, 1:])
        w_pos = counts[:, pos_items]
        lower, lower_or_tied = neg_cum[:, below], neg_cum[:, up_to]
        total_pos, total_neg = w_pos.sum(axis=1), neg_cum[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (w_pos * (lower + lower_or_tied)).sum(axis=1) / (2.0 * total_pos * total_neg)
        return np.where((total_pos > 0) & (total_neg > 0), auc, np.nan)

    return stat


def roc_auc_macro_stat(y_true: np.ndarray, proba: np.ndarray) -> Statistic:
    """Macro one-vs-rest ROC AUC, as `roc_auc_score(one_hot(y), proba, average="macro")`.

    The report's `roc_auc_ovr_macro`: the unweighted mean of each class's AUC of its own
    probability column against the rest. NaN when a resample misses a class.
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    per_class = [roc_auc_binary_stat(y_true == c, proba[:, c]) for c in range(proba.shape[1])]
    return lambda counts: np.mean([stat(counts) for stat in per_class], axis=0)


def r2_stat(y_true: np.ndarray, y_pred: np.ndarray) -> Statistic:
    """R^2 of every resample, as `r2_score`: 1 - SS_res / SS_tot with weighted sums.

    NaN where the resampled targets are all equal (SS_tot = 0).
    """
    y = np.asarray(y_true, dtype=np.float64)
    residual2 = (y - np.asarray(y_pred, dtype=np.float64)) ** 2

    def stat(counts: np.ndarray) -> np.ndarray:
        w = counts.sum(axis=1)
        ss_tot = counts @ (y * y) - (counts @ y) ** 2 / w
        ss_res = counts @ residual2
        # Relative threshold: float cancellation leaves ~1e-12 * sum(y^2) of a constant resample.
        defined = ss_tot > 1e-12 * (counts @ (y * y))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(defined, 1.0 - ss_res / ss_tot, np.nan)

    return stat


def mean_stat(values: np.ndarray) -> Statistic:
    """The mean of per-item values (such as per-image PSNR) in every resample."""
    values = np.asarray(values, dtype=np.float64)
    return lambda counts: counts @ values / counts.sum(axis=1)


# ---------------------------------------------------------------- report-level helpers


def classification_intervals(
    y_true: np.ndarray, proba: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> dict[str, Interval]:
    """Intervals of `accuracy`, `f1_macro` and `roc_auc_ovr_macro` from class probabilities.

    The predictions are `proba.argmax(1)`, as in `classification_metrics`. Inputs are
    trusted (validated by the caller).
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    y_pred, n = proba.argmax(axis=1), len(y_true)
    stats = {
        "accuracy": accuracy_stat(y_true, y_pred),
        "f1_macro": f1_macro_stat(y_true, y_pred, proba.shape[1]),
        "roc_auc_ovr_macro": roc_auc_macro_stat(y_true, proba),
    }
    return _many(stats, n, n_resamples, seed)


def binary_intervals(
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    threshold: float = 0.5,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict[str, Interval]:
    """Intervals of `f1` (class 1, predicted when `score >= threshold`) and `roc_auc` of a binary score."""
    y_true, score = np.asarray(y_true), np.asarray(score, dtype=np.float64)
    stats = {
        "f1": f1_binary_stat(y_true, (score >= threshold).astype(int)),
        "roc_auc": roc_auc_binary_stat(y_true, score),
    }
    return _many(stats, len(y_true), n_resamples, seed)


def interval_metrics(intervals: Mapping[str, Interval]) -> dict[str, float]:
    """The flat-metric form: `<name>_ci_low` and `<name>_ci_high` for every interval.

    Example:
        >>> interval_metrics({"r2": Interval(0.5, 0.4, 0.6, 1000)})
        {'r2_ci_low': 0.4, 'r2_ci_high': 0.6}
    """
    out: dict[str, float] = {}
    for name, interval in intervals.items():
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = interval.low, interval.high
    return out


def interval_rows(intervals: Mapping[str, Interval]) -> list[dict[str, object]]:
    """One table row per interval: metric, value, 95 % low, 95 % high, resamples."""
    return [
        {"metric": name, "value": i.estimate, "95% CI low": i.low, "95% CI high": i.high, "resamples": i.resamples}
        for name, i in intervals.items()
    ]


# --------------------------------------------------------------------------- internals


def _chunks(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    # The whole index matrix is drawn at once (8 bytes x B x n), so a chunk size never
    # changes which resamples are drawn; only the count matrices are built per chunk.
    indices = resample_indices(n, n_resamples=n_resamples, seed=seed)
    for start in range(0, n_resamples, _CHUNK):
        yield count_matrix(indices[start : start + _CHUNK], n)


def _resampled(statistic: Statistic, n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    for counts in _chunks(n, n_resamples, seed):
        yield statistic(counts)


def _many(stats: Mapping[str, Statistic], n: int, n_resamples: int, seed: int) -> dict[str, Interval]:
    # One pass over the count matrices serves every statistic.
    values: dict[str, list[np.ndarray]] = {name: [] for name in stats}
    for counts in _chunks(n, n_resamples, seed):
        for name, stat in stats.items():
            values[name].append(stat(counts))
    ones = np.ones((1, n))
    return {
        name: _interval(float(stat(ones)[0]), np.concatenate(values[name]), CONFIDENCE) for name, stat in stats.items()
    }


def _interval(estimate: float, values: np.ndarray, confidence: float) -> Interval:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Interval(estimate, float("nan"), float("nan"), 0)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return Interval(estimate, float(low), float(high), int(finite.size))
