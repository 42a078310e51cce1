"""Classification metrics: thin, validated wrappers around scikit-learn.

Every number here is computed by a scikit-learn function, except the expected calibration
error, which scikit-learn does not provide. Inputs are checked once at the boundary and
errors name what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

from pipelines.errors import DataValidationError

__all__ = [
    "classification_metrics",
    "binary_metrics",
    "best_f1_threshold",
    "per_class_table",
    "expected_calibration_error",
    "validate_proba",
    "validate_binary_scores",
    "validate_labels",
]

# Float32 softmax rows sum to 1 only to ~1e-7 (float16 to ~1e-3); looser than that means
# the caller passed logits or unnormalized scores.
_ROW_SUM_ATOL = 1e-3


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, *, n_bins: int = 15) -> dict[str, float]:
    """Computes the standard multiclass metrics from class probabilities.

    ROC AUC and average precision are one-vs-rest, on the one-hot labels against
    `proba`, which is what `roc_auc_score(..., multi_class="ovr")` does and also works
    for `k=2`. A class absent from `y_true` has an undefined ROC AUC: scikit-learn warns
    and its value (and so the macro average) is NaN.

    `brier` is the multiclass Brier score of Brier (1950): the mean over samples of the
    sum over classes of the squared difference to the one-hot label, in [0, 2].
    For `k=2` it is twice the usual binary Brier score of the positive class. It is
    `brier_score_loss(..., scale_by_half=False)`.

    Args:
        y_true: Integer labels in `[0, k)`, shape `(n,)`.
        proba: Class probabilities, shape `(n, k)` with `k >= 2`, rows summing to 1.
            For a binary task pass both columns.
        n_bins: Number of equal-width confidence bins of the ECE. Defaults to `15`.

    Returns:
        A flat dict of Python floats with keys `accuracy`, `balanced_accuracy` (the mean
        recall over classes), `mcc` (Matthews correlation, multiclass), `f1_macro`,
        `f1_micro`, `f1_weighted`, `precision_macro`, `recall_macro`, `roc_auc_ovr_macro`,
        `roc_auc_ovr_micro`, `average_precision_macro`, `log_loss`, `brier`, `ece`, then
        `f1_class_<c>` and `roc_auc_class_<c>` for every class `c`. The first two stay
        honest under class imbalance, where accuracy rewards predicting the big class.

    Raises:
        DataValidationError: If the shapes disagree, `proba` is not a 2-D array of
            probabilities, or a label lies outside `[0, k)`.

    Example:
        >>> y = np.array([0, 1, 1, 0])
        >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
        >>> m = classification_metrics(y, p, n_bins=5)
        >>> m["accuracy"], m["roc_auc_ovr_macro"]
        (0.75, 0.75)
    """
    y_true, proba = validate_proba(y_true, proba)
    _check_n_bins(n_bins)
    k = proba.shape[1]
    labels = np.arange(k)
    y_pred = proba.argmax(axis=1)
    onehot = _one_hot(y_true, k)
    f1_per_class = skm.f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    auc_per_class = skm.roc_auc_score(onehot, proba, average=None)

    metrics = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "f1_micro": skm.f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0),
        "f1_weighted": skm.f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0),
        "precision_macro": skm.precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "roc_auc_ovr_macro": skm.roc_auc_score(onehot, proba, average="macro"),
        "roc_auc_ovr_micro": skm.roc_auc_score(onehot, proba, average="micro"),
        "average_precision_macro": skm.average_precision_score(onehot, proba, average="macro"),
        "log_loss": skm.log_loss(y_true, proba, labels=labels),
        "brier": skm.brier_score_loss(y_true, proba, labels=labels, scale_by_half=False),
        "ece": _ece(y_true, proba, n_bins),
    }
    for c in range(k):
        metrics[f"f1_class_{c}"] = f1_per_class[c]
    for c in range(k):
        metrics[f"roc_auc_class_{c}"] = auc_per_class[c]
    return {name: float(value) for name, value in metrics.items()}


def binary_metrics(y_true: np.ndarray, score: np.ndarray, *, threshold: float = 0.5) -> dict[str, float]:
    """Computes binary metrics from a score of the positive class.

    Args:
        y_true: Labels in `{0, 1}`, shape `(n,)`.
        score: Probability or any score of class 1, shape `(n,)`; higher means more
            likely positive.
        threshold: A sample is predicted positive when `score >= threshold`.
            Defaults to `0.5`.

    Returns:
        A dict of Python floats with keys `roc_auc`, `average_precision` (threshold
        free) and `f1`, `accuracy`, `precision`, `recall`, `specificity` (the recall of
        class 0), `balanced_accuracy` and `mcc` (Matthews correlation), at `threshold`.

    Raises:
        DataValidationError: If the shapes disagree, a label is not 0 or 1, or a score
            is not finite.

    Example:
        >>> m = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9]))
        >>> m["roc_auc"], m["precision"], m["recall"]
        (1.0, 0.6666666666666666, 1.0)
    """
    y_true, score = validate_binary_scores(y_true, score)
    if not np.isfinite(threshold):
        raise DataValidationError(f"expected a finite `threshold`. Received: threshold={threshold!r}")
    y_pred = (score >= threshold).astype(int)
    metrics = {
        "roc_auc": skm.roc_auc_score(y_true, score),
        "average_precision": skm.average_precision_score(y_true, score),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "specificity": skm.recall_score(y_true, y_pred, pos_label=0, zero_division=0),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "mcc": skm.matthews_corrcoef(y_true, y_pred),
    }
    return {name: float(value) for name, value in metrics.items()}


def best_f1_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """Returns the threshold that maximizes F1 of `score >= threshold` on this data.

    Choose it on validation data, not on the test set it will be evaluated on.

    Args:
        y_true: Labels in `{0, 1}`, shape `(n,)`, with both classes present.
        score: Score of class 1, shape `(n,)`.

    Returns:
        One of the observed scores, as a Python float.

    Raises:
        DataValidationError: If the inputs are invalid or `y_true` holds a single class.

    Example:
        >>> best_f1_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9]))
        0.7
    """
    y_true, score = validate_binary_scores(y_true, score)
    if np.unique(y_true).size < 2:
        raise DataValidationError(
            f"expected both classes in `y_true` to choose an F1 threshold. Received only label {int(y_true[0])}."
        )
    precision, recall, thresholds = skm.precision_recall_curve(y_true, score)
    # The last (precision=1, recall=0) point has no threshold.
    precision, recall = precision[:-1], recall[:-1]
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return float(thresholds[int(np.argmax(f1))])


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    """Tabulates precision, recall, specificity, false-positive rate, F1 and support of every class.

    Specificity is one-vs-rest: of the samples of other classes, the share not predicted
    as this class; the false-positive rate is one minus it.

    Args:
        y_true: Integer labels in `[0, len(class_names))`, shape `(n,)`.
        y_pred: Predicted integer labels, shape `(n,)`.
        class_names: Name of each class, indexed by label.

    Returns:
        One dict per class, in label order, with keys `class`, `precision`, `recall`,
        `specificity`, `fpr`, `f1` (Python floats) and `support` (Python int).

    Raises:
        DataValidationError: If the shapes disagree or a label is out of range.

    Example:
        >>> rows = per_class_table(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b"])
        >>> {key: rows[1][key] for key in ("class", "recall", "specificity", "fpr", "support")}
        {'class': 'b', 'recall': 0.5, 'specificity': 1.0, 'fpr': 0.0, 'support': 2}
    """
    k = len(class_names)
    y_true = validate_labels(y_true, k, name="y_true")
    y_pred = validate_labels(y_pred, k, name="y_pred")
    _check_same_length(y_true, y_pred, "y_true", "y_pred")
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(k), zero_division=0
    )
    # One 2x2 matrix [[tn, fp], [fn, tp]] per class, that class against the rest.
    matrices = skm.multilabel_confusion_matrix(y_true, y_pred, labels=np.arange(k))
    negatives = matrices[:, 0, 0] + matrices[:, 0, 1]
    specificity = np.divide(
        matrices[:, 0, 0], negatives, out=np.zeros(k), where=negatives > 0
    )  # no other class in y_true: 0, as zero_division=0 does above
    return [
        {
            "class": str(class_names[c]),
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "specificity": float(specificity[c]),
            "fpr": float(1.0 - specificity[c]) if negatives[c] > 0 else 0.0,
            "f1": float(f1[c]),
            "support": int(support[c]),
        }
        for c in range(k)
    ]


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence (Guo et al., 2017).

    Samples are binned by their confidence `max(proba)` into `n_bins` equal-width bins
    `[0, 1/n], (1/n, 2/n], ...`; the ECE is the sum over bins of
    `|accuracy - mean confidence| * fraction of samples in the bin`.

    Args:
        y_true: Integer labels in `[0, k)`, shape `(n,)`.
        proba: Class probabilities, shape `(n, k)`.
        n_bins: Number of bins. Defaults to `15`.

    Returns:
        The ECE in `[0, 1]`, as a Python float.

    Raises:
        DataValidationError: If the inputs are invalid.

    Example:
        >>> p = np.array([[0.8, 0.2]] * 5)
        >>> expected_calibration_error(np.array([0, 0, 0, 0, 1]), p)
        0.0
    """
    y_true, proba = validate_proba(y_true, proba)
    _check_n_bins(n_bins)
    return _ece(y_true, proba, n_bins)


def validate_proba(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checks labels against class probabilities and returns clean copies.

    Args:
        y_true: Integer labels, shape `(n,)`.
        proba: Class probabilities, shape `(n, k)`, `k >= 2`.

    Returns:
        `(y_true, proba)` as an int64 array and a float64 array whose rows are
        renormalized to sum to 1 (within float64 precision).

    Raises:
        DataValidationError: Naming the first problem found.
    """
    proba = np.asarray(proba)
    if proba.ndim != 2:
        raise DataValidationError(
            "expected `proba` of shape (n_samples, n_classes). "
            f"Received: shape {proba.shape}. For a binary score `p` pass "
            "`np.stack([1 - p, p], axis=1)` or use `binary_metrics`."
        )
    if proba.shape[1] < 2:
        raise DataValidationError(f"expected `proba` with at least 2 columns. Received: shape {proba.shape}.")
    if proba.dtype == bool or not np.issubdtype(proba.dtype, np.number) or np.iscomplexobj(proba):
        raise DataValidationError(f"expected real-valued `proba`. Received: dtype {proba.dtype}.")
    # float64 so the metrics agree with a float64 reference to the last digit.
    proba = proba.astype(np.float64)
    k = proba.shape[1]
    y_true = validate_labels(y_true, k, name="y_true")
    _check_same_length(y_true, proba, "y_true", "proba")
    if not np.isfinite(proba).all():
        bad = np.argwhere(~np.isfinite(proba))[0]
        raise DataValidationError(
            "expected finite probabilities. Received: "
            f"proba[{bad[0]}, {bad[1]}]={proba[bad[0], bad[1]]} "
            f"({int((~np.isfinite(proba)).sum())} non-finite values; NaN usually means "
            "the model diverged)."
        )
    if (proba < 0).any():
        raise DataValidationError(
            f"expected probabilities in [0, 1]. Received: min={proba.min()}. Apply a softmax to logits first."
        )
    row_sums = proba.sum(axis=1)
    off = np.abs(row_sums - 1.0)
    if (off > _ROW_SUM_ATOL).any():
        i = int(np.argmax(off))
        raise DataValidationError(
            f"expected each row of `proba` to sum to 1 (within {_ROW_SUM_ATOL}). "
            f"Received: row {i} sums to {row_sums[i]}. Apply a softmax to logits first."
        )
    # sklearn warns about rows summing to 1 only within ~1e-8, tighter than float32
    # softmax gets; renormalizing removes that rounding without changing any ranking.
    proba = proba / row_sums[:, None]
    return y_true, proba


def validate_binary_scores(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Checks binary labels against a 1-D score and returns clean copies.

    Args:
        y_true: Labels in `{0, 1}`, shape `(n,)`.
        score: Score of class 1, shape `(n,)`.

    Returns:
        `(y_true, score)` as an int64 array and a float64 array.

    Raises:
        DataValidationError: Naming the first problem found.
    """
    score = np.asarray(score)
    if score.ndim != 1:
        raise DataValidationError(
            "expected a 1-D `score` of the positive class, shape (n_samples,). "
            f"Received: shape {score.shape}. For (n, 2) probabilities pass `proba[:, 1]`."
        )
    if not np.issubdtype(score.dtype, np.number) and score.dtype != bool:
        raise DataValidationError(f"expected a numeric `score`. Received: dtype {score.dtype}.")
    score = score.astype(np.float64)
    y_true = validate_labels(y_true, 2, name="y_true")
    _check_same_length(y_true, score, "y_true", "score")
    if not np.isfinite(score).all():
        i = int(np.argmax(~np.isfinite(score)))
        raise DataValidationError(f"expected finite scores. Received: score[{i}]={score[i]}.")
    return y_true, score


def validate_labels(y: np.ndarray, k: int, *, name: str = "y_true") -> np.ndarray:
    """Checks a 1-D array of integer labels in `[0, k)` and returns it as int64.

    Integral floats (labels often arrive as float32 from `tf.data`) and booleans are
    accepted; anything else is an error.

    Args:
        y: The labels, shape `(n,)`.
        k: The number of classes.
        name: The argument name used in error messages. Defaults to `"y_true"`.

    Returns:
        The labels as an int64 array.

    Raises:
        DataValidationError: If `y` is not 1-D, is empty, is not integral, or holds a
            label outside `[0, k)`.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        hint = f" For one-hot labels pass `np.argmax({name}, axis=1)`." if y.ndim == 2 and y.shape[1] == k else ""
        raise DataValidationError(
            f"expected integer labels `{name}` of shape (n_samples,). Received: shape {y.shape}.{hint}"
        )
    if y.size == 0:
        raise DataValidationError(f"expected at least one sample. Received: empty `{name}`.")
    if y.dtype == bool:
        y = y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise DataValidationError(
                f"expected integer labels in `{name}`. Received: dtype {y.dtype} with "
                f"non-integer values such as {y[np.flatnonzero(y != np.round(y))[0]]}."
            )
    elif not np.issubdtype(y.dtype, np.integer):
        raise DataValidationError(f"expected integer labels in `{name}`. Received: dtype {y.dtype}.")
    y = y.astype(np.int64)
    out = (y < 0) | (y >= k)
    if out.any():
        raise DataValidationError(
            f"expected labels in [0, {k}) in `{name}`. Received: {int(y[out][0])} "
            f"({int(out.sum())} out of range; min={int(y.min())}, max={int(y.max())})."
        )
    return y


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise DataValidationError(
            f"expected `{name_a}` and `{name_b}` to have the same number of samples. Received: {len(a)} and {len(b)}."
        )


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise DataValidationError(f"expected a positive integer. Received: n_bins={n_bins!r}")


def _one_hot(y: np.ndarray, k: int) -> np.ndarray:
    # label_binarize would return a single column for k=2; one-vs-rest needs both.
    return np.eye(k, dtype=np.int64)[y]


def _ece(y_true: np.ndarray, proba: np.ndarray, n_bins: int) -> float:
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right=True gives bins (lo, hi], with confidence 0 falling into the first bin.
    bins = np.digitize(confidence, edges[1:-1], right=True)
    sum_conf = np.bincount(bins, weights=confidence, minlength=n_bins)
    sum_correct = np.bincount(bins, weights=correct, minlength=n_bins)
    # |acc - conf| * count / n == |sum_correct - sum_conf| / n, empty bins add 0.
    return float(np.abs(sum_correct - sum_conf).sum() / len(y_true))
