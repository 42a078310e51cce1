"""Tests of pipelines.baselines.ols, with ISLR's published tables as the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.baselines.ols import design_matrix, ols_oof, ols_table, parse_interactions
from pipelines.errors import ConfigError
from pipelines.inputs.splits import kfold_ids

FEATURES = ["TV", "radio", "newspaper"]


def _advertising(real_data_dir):
    frame = pd.read_csv(real_data_dir / "advertising" / "Advertising.csv")
    return frame[FEATURES].to_numpy(float), frame["sales"].to_numpy(float)


@pytest.mark.realdata
def test_reproduces_islr_table_3_4(real_data_dir):
    x, y = _advertising(real_data_dir)
    table = ols_table(x, y, FEATURES)
    rows = {row["term"]: row for row in table["terms"]}
    # ISLR (2013) Table 3.4: coefficients to 3 decimals, standard errors as printed.
    for term, coef, se in [
        ("Intercept", 2.939, 0.3119),
        ("TV", 0.046, 0.0014),
        ("radio", 0.189, 0.0086),
        ("newspaper", -0.001, 0.0059),
    ]:
        assert round(rows[term]["coef"], 3) == coef
        assert round(rows[term]["std_err"], 4) == se
    assert round(rows["TV"]["t"], 2) == 32.81 and round(rows["newspaper"]["p"], 4) == 0.8599
    # Table 3.6: RSE 1.69, R^2 0.897, F 570.
    assert round(table["rse"], 2) == 1.69 and round(table["r2"], 3) == 0.897 and round(table["f"]) == 570
    assert table["n"] == 200 and table["df_resid"] == 196


@pytest.mark.realdata
def test_tv_radio_interaction_reproduces_islr_table_3_9(real_data_dir):
    x, y = _advertising(real_data_dir)
    table = ols_table(x[:, :2], y, ["TV", "radio"], [("TV", "radio")])
    rows = {row["term"]: row for row in table["terms"]}
    assert round(table["r2"], 3) == 0.968
    assert round(rows["Intercept"]["coef"], 4) == 6.7502 and round(rows["TV:radio"]["coef"], 4) == 0.0011
    # With newspaper as well, as the pipeline's `interactions` does it: the same R^2.
    assert round(ols_table(x, y, FEATURES, ["TV:radio"])["r2"], 3) == 0.968


def test_interactions_accept_pairs_and_strings():
    pairs = parse_interactions([("TV", "radio"), "radio:newspaper"], FEATURES)
    assert pairs == [("TV", "radio"), ("radio", "newspaper")]


@pytest.mark.parametrize(
    "term,match",
    [
        (("TV", "tv"), r"names unknown features \['tv'\]\. Known features: \['TV', 'radio', 'newspaper'\]"),
        ("TV:TV", "two different feature names"),
        ("TV", "two different feature names"),
        (("TV", "radio", "newspaper"), "two different feature names"),
    ],
)
def test_bad_interactions_raise_config_error(term, match):
    with pytest.raises(ConfigError, match=match):
        parse_interactions([term], FEATURES)


def test_oof_predictions_never_use_the_held_out_rows():
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 2)), rng.normal(size=30)
    ids = kfold_ids(30, 3, seed=0)
    oof = ols_oof(x, y, ids, ["a", "b"])
    spoiled = y.copy()
    spoiled[ids == 0] += 100.0  # the held-out rows of fold 0 change ...
    # ... and its predictions do not.
    np.testing.assert_allclose(ols_oof(x, spoiled, ids, ["a", "b"])[ids == 0], oof[ids == 0])
    design, _ = design_matrix(x, ["a", "b"])
    coef = np.linalg.lstsq(design[ids != 1], y[ids != 1], rcond=None)[0]
    np.testing.assert_allclose(oof[ids == 1], design[ids == 1] @ coef)
