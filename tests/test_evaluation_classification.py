"""Tests of pipelines.evaluation.classification: values agree with scikit-learn's own."""

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from pipelines.errors import DataValidationError
from pipelines.evaluation import classification as clf


def make_data(n=300, k=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5  # informative but far from perfect
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return y, proba.astype(dtype)


def sklearn_reference(y, proba):
    """Every metric computed by scikit-learn's own functions on the raw arrays."""
    k = proba.shape[1]
    labels = list(range(k))
    y_pred = proba.argmax(axis=1)
    if k == 2:
        # sklearn's multiclass "ovr" path refuses binary labels; one-vs-rest over both
        # columns is then the mean of the two binary scores.
        onehot = np.column_stack([1 - y, y])
        auc_macro = skm.roc_auc_score(onehot, proba, average="macro")
        auc_micro = skm.roc_auc_score(onehot, proba, average="micro")
        ap_macro = np.mean([skm.average_precision_score(y == c, proba[:, c]) for c in labels])
    else:
        auc_macro = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
        auc_micro = skm.roc_auc_score(y, proba, multi_class="ovr", average="micro")
        ap_macro = skm.average_precision_score(label_binarize(y, classes=labels), proba, average="macro")
    confusion = skm.confusion_matrix(y, y_pred, labels=labels).astype(float)
    t, p, correct, total = confusion.sum(axis=1), confusion.sum(axis=0), np.trace(confusion), confusion.sum()
    expected = {
        "accuracy": skm.accuracy_score(y, y_pred),
        # Mean recall over the classes present; Gorodkin's multiclass MCC from the confusion matrix.
        "balanced_accuracy": float(np.mean([np.mean(y_pred[y == c] == c) for c in labels if np.any(y == c)])),
        "mcc": (correct * total - t @ p) / np.sqrt((total**2 - p @ p) * (total**2 - t @ t)),
        "f1_macro": skm.f1_score(y, y_pred, labels=labels, average="macro"),
        "f1_micro": skm.f1_score(y, y_pred, labels=labels, average="micro"),
        "f1_weighted": skm.f1_score(y, y_pred, labels=labels, average="weighted"),
        "precision_macro": skm.precision_score(y, y_pred, labels=labels, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, y_pred, labels=labels, average="macro", zero_division=0),
        "roc_auc_ovr_macro": auc_macro,
        "roc_auc_ovr_micro": auc_micro,
        "average_precision_macro": ap_macro,
        "log_loss": skm.log_loss(y, proba, labels=labels),
        "brier": skm.brier_score_loss(y, proba, labels=labels, scale_by_half=False),
        "ece": ece_reference(y, proba, 15),
    }
    f1_each = skm.f1_score(y, y_pred, labels=labels, average=None)
    for c in labels:
        expected[f"f1_class_{c}"] = f1_each[c]
    for c in labels:
        expected[f"roc_auc_class_{c}"] = skm.roc_auc_score(y == c, proba[:, c])
    return expected


def ece_reference(y, proba, n_bins):
    """A deliberately slow, literal ECE: bins (lo, hi], the first one closed at 0."""
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = edges[b], edges[b + 1]
        members = [i for i in range(len(y)) if (lo < confidence[i] <= hi) or (b == 0 and confidence[i] == 0.0)]
        if members:
            acc = np.mean([correct[i] for i in members])
            conf = np.mean([confidence[i] for i in members])
            total += abs(acc - conf) * len(members) / len(y)
    return total


EXPECTED_KEYS = [
    "accuracy",
    "balanced_accuracy",
    "mcc",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "roc_auc_ovr_macro",
    "roc_auc_ovr_micro",
    "average_precision_macro",
    "log_loss",
    "brier",
    "ece",
]


@pytest.mark.parametrize("k", [2, 3, 5])
def test_metrics_equal_sklearn(k):
    y, proba = make_data(k=k, seed=k)
    got = clf.classification_metrics(y, proba)
    expected = sklearn_reference(y, proba)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_exact_key_set_and_python_floats():
    y, proba = make_data(k=3)
    got = clf.classification_metrics(y, proba)
    per_class = [f"f1_class_{c}" for c in range(3)] + [f"roc_auc_class_{c}" for c in range(3)]
    assert list(got) == EXPECTED_KEYS + per_class
    assert all(type(v) is float for v in got.values())


def test_brier_is_the_unhalved_multiclass_definition():
    y, proba = make_data(k=2, seed=3)
    onehot = np.eye(2)[y]
    got = clf.classification_metrics(y, proba)["brier"]
    assert got == pytest.approx(np.mean(np.sum((onehot - proba) ** 2, axis=1)))
    # For k=2 that is twice the usual binary Brier score of the positive class.
    assert got == pytest.approx(2 * skm.brier_score_loss(y, proba[:, 1]))


def test_float32_softmax_gives_no_sklearn_warning():
    # Regression: float32 rows sum to 1 only within ~1e-7, and log_loss warned.
    y, proba = make_data(k=10, seed=1, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = clf.classification_metrics(y, proba)
    exact = proba.astype(np.float64)
    exact /= exact.sum(axis=1, keepdims=True)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, exact, labels=list(range(10))))


def test_float_and_bool_labels_are_accepted_when_integral():
    y, proba = make_data(k=2, seed=4)
    expected = clf.classification_metrics(y, proba)
    assert clf.classification_metrics(y.astype(np.float32), proba) == expected
    assert clf.classification_metrics(y.astype(bool), proba) == expected


def test_class_missing_from_y_true_gives_nan_auc_not_an_error():
    y, proba = make_data(k=3, seed=5)
    y[y == 2] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that the AUC is undefined
        got = clf.classification_metrics(y, proba)
    assert np.isnan(got["roc_auc_class_2"])
    assert np.isfinite(got["roc_auc_class_0"]) and np.isfinite(got["accuracy"])


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_ece_matches_slow_reference(n_bins, seed):
    y, proba = make_data(n=250, k=4, seed=seed)
    assert clf.expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(
        ece_reference(y, proba, n_bins), abs=1e-12
    )


def test_ece_is_zero_when_perfectly_calibrated():
    # Confidence 0.8 with 8 of 10 right, and 0.6 with 3 of 5 right.
    proba = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 5)
    y = np.array([0] * 8 + [1] * 2 + [1] * 3 + [0] * 2)
    assert clf.expected_calibration_error(y, proba) == pytest.approx(0.0, abs=1e-12)
    assert clf.classification_metrics(y, proba)["ece"] == pytest.approx(0.0, abs=1e-12)


def test_ece_is_one_when_certain_and_always_wrong():
    proba = np.array([[1.0, 0.0, 0.0]] * 4)
    assert clf.expected_calibration_error(np.array([1, 2, 1, 2]), proba) == 1.0


@pytest.mark.parametrize(
    "y, proba, match",
    [
        (np.array([0, 1, 1]), np.full((2, 2), 0.5), r"same number of samples.*3 and 2"),
        (np.array([0, 1]), np.array([0.3, 0.6]), r"shape \(n_samples, n_classes\).*\(2,\)"),
        (np.array([0, 1]), np.ones((2, 1)), r"at least 2 columns"),
        (np.array([0, 3]), np.full((2, 3), 1 / 3), r"labels in \[0, 3\).*Received: 3"),
        (np.array([0, -1]), np.full((2, 2), 0.5), r"labels in \[0, 2\).*Received: -1"),
        (np.array([0, 1]), np.array([[0.5, 0.5], [np.nan, 0.5]]), r"finite.*proba\[1, 0\]=nan"),
        (np.array([0, 1]), np.array([[2.0, 3.0], [1.0, 0.0]]), r"sum to 1.*row 0 sums to 5"),
        (np.array([0, 1]), np.array([[1.5, -0.5], [1.0, 0.0]]), r"\[0, 1\].*min=-0.5"),
        (np.array([0.5, 1]), np.full((2, 2), 0.5), r"integer labels.*0.5"),
        (np.eye(2), np.full((2, 2), 0.5), r"shape \(n_samples,\).*argmax"),
        (np.array([], dtype=int), np.zeros((0, 2)), r"at least one sample"),
        (np.array(["a", "b"]), np.full((2, 2), 0.5), r"integer labels.*dtype"),
    ],
)
def test_bad_inputs_raise_data_validation_error(y, proba, match):
    with pytest.raises(DataValidationError, match=match):
        clf.classification_metrics(y, proba)


def test_bad_n_bins_raises():
    y, proba = make_data(n=10, k=2)
    with pytest.raises(DataValidationError, match=r"positive integer.*n_bins=0"):
        clf.classification_metrics(y, proba, n_bins=0)


def test_data_validation_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"expected `proba` of shape \(n_samples, n_classes\)"):
        clf.classification_metrics(np.array([0, 1]), np.array([0.3, 0.6]))


def test_binary_metrics_equal_sklearn():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=200)
    score = np.clip(0.3 * y + rng.normal(0.35, 0.25, size=200), 0, 1)
    got = clf.binary_metrics(y, score, threshold=0.5)
    y_pred = score >= 0.5
    assert got == pytest.approx(
        {
            "roc_auc": skm.roc_auc_score(y, score),
            "average_precision": skm.average_precision_score(y, score),
            "f1": skm.f1_score(y, y_pred),
            "accuracy": skm.accuracy_score(y, y_pred),
            "precision": skm.precision_score(y, y_pred),
            "recall": skm.recall_score(y, y_pred),
            "specificity": np.mean(~y_pred[y == 0]),
            "balanced_accuracy": (np.mean(y_pred[y == 1]) + np.mean(~y_pred[y == 0])) / 2,
            "mcc": np.corrcoef(y, y_pred)[0, 1],  # for two classes MCC is Pearson's phi
        }
    )
    assert list(got) == [
        "roc_auc",
        "average_precision",
        "f1",
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "balanced_accuracy",
        "mcc",
    ]


def test_binary_metrics_threshold_is_inclusive_and_unbounded_scores_work():
    y = np.array([0, 0, 1, 1])
    score = np.array([-3.0, 1.0, 2.0, 7.5])  # e.g. anomaly scores, not probabilities
    got = clf.binary_metrics(y, score, threshold=2.0)
    assert got["precision"] == 1.0 and got["recall"] == 1.0
    nothing = clf.binary_metrics(y, score, threshold=100.0)
    assert nothing["recall"] == 0.0 and nothing["precision"] == 0.0  # zero_division=0


@pytest.mark.parametrize(
    "y, score, match",
    [
        (np.array([0, 2]), np.array([0.1, 0.2]), r"labels in \[0, 2\)"),
        (np.array([0, 1]), np.array([[0.1, 0.9], [0.2, 0.8]]), r"1-D `score`.*proba\[:, 1\]"),
        (np.array([0, 1]), np.array([0.1, np.inf]), r"finite scores.*score\[1\]=inf"),
        (np.array([0, 1, 1]), np.array([0.1, 0.2]), r"same number of samples"),
    ],
)
def test_binary_metrics_bad_inputs(y, score, match):
    with pytest.raises(DataValidationError, match=match):
        clf.binary_metrics(y, score)


def test_best_f1_threshold_separates_separable_data():
    y = np.array([0, 0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.45, 0.5, 0.9])
    threshold = clf.best_f1_threshold(y, score)
    assert threshold == 0.5
    assert clf.binary_metrics(y, score, threshold=threshold)["f1"] == 1.0


def test_best_f1_threshold_is_the_brute_force_optimum():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, size=150)
    score = rng.random(150) + 0.4 * y
    threshold = clf.best_f1_threshold(y, score)
    brute = max(skm.f1_score(y, score >= t) for t in np.unique(score))
    assert skm.f1_score(y, score >= threshold) == pytest.approx(brute)
    assert type(threshold) is float


def test_best_f1_threshold_needs_both_classes():
    with pytest.raises(DataValidationError, match="both classes"):
        clf.best_f1_threshold(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9]))


def test_per_class_table_matches_sklearn():
    y, proba = make_data(k=3, seed=9)
    y_pred = proba.argmax(axis=1)
    rows = clf.per_class_table(y, y_pred, ["a", "b", "c"])
    p, r, f, s = skm.precision_recall_fscore_support(y, y_pred, labels=[0, 1, 2])
    assert [row["class"] for row in rows] == ["a", "b", "c"]
    for c, row in enumerate(rows):
        assert list(row) == ["class", "precision", "recall", "specificity", "fpr", "f1", "support"]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[c], r[c], f[c]))
        others = y != c
        specificity = np.mean(y_pred[others] != c)  # of the other classes' samples, not called c
        assert (row["specificity"], row["fpr"]) == pytest.approx((specificity, 1 - specificity))
        assert row["support"] == s[c] and type(row["support"]) is int


def test_per_class_table_includes_a_class_never_seen():
    rows = clf.per_class_table(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert rows[1] == {
        "class": "b",
        "precision": 0.0,
        "recall": 0.0,
        "specificity": 1.0,
        "fpr": 0.0,
        "f1": 0.0,
        "support": 0,
    }


def test_per_class_table_rejects_labels_beyond_class_names():
    with pytest.raises(DataValidationError, match=r"\[0, 2\) in `y_pred`"):
        clf.per_class_table(np.array([0, 1]), np.array([0, 2]), ["a", "b"])
