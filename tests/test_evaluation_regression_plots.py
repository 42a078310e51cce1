"""Tests of pipelines.evaluation.regression_plots."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.errors import DataValidationError
from pipelines.evaluation.plots import figure_to_png
from pipelines.evaluation.regression_plots import (
    partial_dependence,
    partial_dependence_figure,
    predicted_vs_actual_figure,
    residuals_figure,
)

Y = np.linspace(0.0, 10.0, 30)


def test_predicted_vs_actual_labels_each_model_with_its_rmse():
    fig = predicted_vs_actual_figure(Y, {"a": Y + 1.0, "b": Y[:, None]}, unit="sales")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["a (RMSE 1.000)", "b (RMSE 0.000)"]
    assert fig.axes[0].get_xlabel() == "actual sales"
    assert figure_to_png(fig).startswith(b"\x89PNG")


def test_residuals_one_panel_per_model():
    fig = residuals_figure(Y, {"a": Y, "b": Y * 0.9})
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    with pytest.raises(DataValidationError, match=r"expected predictions of shape \(30,\) for 'a'"):
        residuals_figure(Y, {"a": Y[:5]})


def test_partial_dependence_of_an_additive_model_is_its_term_plus_the_mean_rest():
    x = np.random.default_rng(0).random((20, 2))
    grid = np.array([0.0, 0.5, 1.0])
    pd_ = partial_dependence(lambda a: 3.0 * a[:, 0] + a[:, 1] ** 2, x, 0, grid)
    np.testing.assert_allclose(pd_, 3.0 * grid + np.mean(x[:, 1] ** 2))


def test_partial_dependence_figure_has_a_panel_per_feature():
    x = np.random.default_rng(0).random((20, 4))
    fig = partial_dependence_figure({"sum": lambda a: a.sum(axis=1)}, x, ["a", "b", "c", "d"], target="sales")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in visible] == ["a", "b", "c", "d"]
    assert visible[0].get_ylabel() == "average sales"
