"""Tests of pipelines.evaluation.plots: every figure builds and renders to a PNG."""

import re

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn import metrics as skm

from pipelines.errors import DataValidationError
from pipelines.evaluation import plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_data(n=120, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    proba = np.exp(logits)
    return y, proba / proba.sum(axis=1, keepdims=True)


def legend_labels(fig):
    return fig.axes[0].get_legend_handles_labels()[1]


def assert_renders(fig):
    assert isinstance(fig, Figure)
    assert all(
        ax.get_title() for ax in fig.axes if ax.get_visible() and ax.images == [] and ax.get_label() != "<colorbar>"
    )
    png = plots.figure_to_png(fig, dpi=50)
    assert png.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_figure(k, normalize):
    y, proba = make_data(k=k)
    fig = plots.confusion_matrix_figure(y, proba.argmax(1), [f"c{i}" for i in range(k)], normalize)
    assert fig.axes[0].get_title().startswith("Confusion matrix")
    assert_renders(fig)


def test_confusion_matrix_shows_counts():
    fig = plots.confusion_matrix_figure([0, 1, 1, 1], [0, 1, 1, 0], ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "1", "2"]


def test_confusion_matrix_rejects_unknown_normalize():
    with pytest.raises(ValueError, match=r"normalize.*Received: normalize='rows'"):
        plots.confusion_matrix_figure([0, 1], [0, 1], ["a", "b"], normalize="rows")


def test_confusion_matrix_many_classes_drops_cell_values():
    y = np.arange(30) % 25
    fig = plots.confusion_matrix_figure(y, y, [str(i) for i in range(25)])
    assert len(fig.axes[0].texts) == 0
    assert_renders(fig)


@pytest.mark.parametrize("make", [plots.roc_figure, plots.pr_figure])
def test_curves_multiclass_legend_has_classes_and_averages(make):
    y, proba = make_data(k=3)
    fig = make(y, proba, ["a", "b", "c"])
    labels = legend_labels(fig)
    assert [label.split(" (")[0] for label in labels] == ["a", "b", "c", "micro-average", "macro-average"]
    assert_renders(fig)


def test_roc_legend_aucs_match_sklearn():
    y, proba = make_data(k=3, seed=2)
    labels = legend_labels(plots.roc_figure(y, proba, ["a", "b", "c"]))
    aucs = [float(re.search(r"AUC = ([0-9.]+)", label).group(1)) for label in labels]
    expected = [skm.roc_auc_score(y == c, proba[:, c]) for c in range(3)]
    expected += [
        skm.roc_auc_score(y, proba, multi_class="ovr", average="micro"),
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"),
    ]
    assert aucs == pytest.approx(expected, abs=5e-4)


def test_pr_legend_aps_match_sklearn():
    y, proba = make_data(k=3, seed=3)
    labels = legend_labels(plots.pr_figure(y, proba, ["a", "b", "c"]))
    aps = [float(re.search(r"AP = ([0-9.]+)", label).group(1)) for label in labels]
    onehot = np.eye(3)[y]
    expected = [skm.average_precision_score(onehot[:, c], proba[:, c]) for c in range(3)]
    expected += [
        skm.average_precision_score(onehot, proba, average="micro"),
        skm.average_precision_score(onehot, proba, average="macro"),
    ]
    assert aps == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("make", [plots.roc_figure, plots.pr_figure])
@pytest.mark.parametrize("as_score", [True, False])
def test_curves_binary_is_a_single_positive_class_curve(make, as_score):
    y, proba = make_data(k=2, seed=4)
    fig = make(y, proba[:, 1] if as_score else proba, ["neg", "pos"])
    labels = legend_labels(fig)
    assert len(labels) == 1 and labels[0].startswith("pos (")
    assert_renders(fig)


@pytest.mark.parametrize("make", [plots.roc_figure, plots.pr_figure])
def test_curves_many_classes_collapse_to_one_legend_entry(make):
    y, proba = make_data(n=300, k=12)
    labels = legend_labels(make(y, proba, [f"c{i}" for i in range(12)]))
    assert [label.split(" (")[0] for label in labels] == ["each of 12 classes", "micro-average", "macro-average"]


def test_curves_skip_a_class_absent_from_y_true():
    y, proba = make_data(k=3, seed=5)
    y[y == 1] = 0
    labels = legend_labels(plots.roc_figure(y, proba, ["a", "b", "c"]))
    assert [label.split(" (")[0] for label in labels] == ["a", "c", "micro-average", "macro-average"]


def test_curves_reject_wrong_number_of_class_names():
    y, proba = make_data(k=3)
    with pytest.raises(DataValidationError, match=r"expected 3 class names.*Received: 2"):
        plots.roc_figure(y, proba, ["a", "b"])


@pytest.mark.parametrize("k", [2, 5])
def test_reliability_figure_title_has_ece(k):
    from pipelines.evaluation.classification import expected_calibration_error

    y, proba = make_data(k=k, seed=6)
    fig = plots.reliability_figure(y, proba, n_bins=10)
    ece = expected_calibration_error(y, proba, n_bins=10)
    assert fig.axes[0].get_title() == f"Reliability (ECE = {ece:.4f})"
    assert_renders(fig)


def test_reliability_figure_accepts_binary_score_and_all_correct():
    fig = plots.reliability_figure(np.array([0, 1, 1]), np.array([0.1, 0.8, 0.95]))
    assert_renders(fig)


def test_learning_curves_pairs_val_keys_and_counts_epochs_from_one():
    history = {
        "loss": [1.0, 0.6, 0.4],
        "accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.1, 0.8, 0.7],
        "val_accuracy": [0.4, 0.6, 0.7],
        "learning_rate": [1e-3, 1e-3, 5e-4],
        "val_auc": [0.6, 0.7, 0.8],
    }
    fig = plots.learning_curves_figure(history)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "learning_rate", "auc"]
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["loss", "val_loss"]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
    assert_renders(fig)


@pytest.mark.parametrize(
    "history, match",
    [({}, "non-empty"), ({"loss": ["a", "b"]}, r"history\['loss'\]"), ({"loss": [[1, 2]]}, "1-D")],
)
def test_learning_curves_bad_history(history, match):
    with pytest.raises(DataValidationError, match=match):
        plots.learning_curves_figure(history)


@pytest.mark.parametrize(
    "shape, dtype",
    [((5, 8, 8), np.float32), ((5, 8, 8, 1), np.float64), ((5, 8, 8, 3), np.uint8), ((5, 8, 8, 3), np.float32)],
)
def test_image_grid_shapes(shape, dtype):
    rng = np.random.default_rng(0)
    images = (rng.random(shape) * 255).astype(dtype)  # float RGB beyond [0, 1] too
    fig = plots.image_grid_figure(images, [f"img {i}" for i in range(5)], ncols=3)
    assert [ax.get_title() for ax in fig.axes] == [f"img {i}" for i in range(5)]
    assert_renders(fig)


@pytest.mark.parametrize(
    "images, titles, match",
    [
        (np.zeros((2, 8, 8)), ["a"], r"one title per image.*1 titles for 2"),
        (np.zeros((2, 8, 8, 2)), ["a", "b"], r"\(n, h, w, 3\).*\(2, 8, 8, 2\)"),
        (np.zeros((2, 8)), ["a", "b"], r"Received: shape \(2, 8\)"),
        (np.zeros((0, 8, 8)), [], "at least one image"),
    ],
)
def test_image_grid_bad_inputs(images, titles, match):
    with pytest.raises(DataValidationError, match=match):
        plots.image_grid_figure(images, titles)


def test_figure_to_png_is_deterministic():
    history = {"loss": [1.0, 0.5], "val_loss": [1.2, 0.9]}
    first = plots.figure_to_png(plots.learning_curves_figure(history))
    second = plots.figure_to_png(plots.learning_curves_figure(history))
    assert first.startswith(PNG_SIGNATURE) and first == second


def test_the_gradient_norms_mean_and_max_share_a_log_scaled_panel():
    from pipelines.evaluation.plots import learning_curves_figure

    fig = learning_curves_figure({"loss": [1.0, 0.5], "grad_norm": [2.0, 0.1], "grad_norm_max": [9.0, 0.3]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "grad_norm"]
    assert fig.axes[1].get_yscale() == "log" and len(fig.axes[1].get_lines()) == 2
