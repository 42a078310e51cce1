"""Tests of pipelines.inputs.tabular: the DataFrame boundary checks and the fold dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.errors import DatasetUnavailable, DataValidationError
from pipelines.inputs.tabular import make_fold_dataset, read_csv, validate_frame

FEATURES = ("TV", "radio")


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"TV": np.arange(n, dtype=float), "radio": np.ones(n), "sales": np.arange(n) * 2.0})


def test_valid_frame_gives_float_arrays_in_feature_order():
    data = validate_frame(_frame(), ("radio", "TV"), "sales")
    assert data.x.dtype == np.float64 and data.x.shape == (6, 2)
    np.testing.assert_array_equal(data.x[:, 1], np.arange(6.0))
    assert data.features == ("radio", "TV") and data.target == "sales"


def test_numeric_strings_are_accepted():
    frame = _frame().astype({"TV": str})
    np.testing.assert_array_equal(validate_frame(frame, FEATURES, "sales").x[:, 0], np.arange(6.0))


def _set(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    frame = frame.astype({column: object})
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    "frame,kwargs,match",
    [
        (
            _frame().drop(columns="radio"),
            {},
            r"expected columns \['TV', 'radio', 'sales'\]\. Received a table "
            r"without \['radio'\].*Pass `features=` and `target=`",
        ),
        (_frame().rename(columns={"sales": "Sales"}), {}, r"without \['sales'\]; its columns are .*'Sales'"),
        (
            _set(_frame(), "radio", 3, "12k"),
            {},
            r"expected numbers in column 'radio'\. Received 1 non-numeric "
            r"values, e\.g\. '12k' at index \[3\]",
        ),
        (
            _set(_frame(), "TV", 2, np.nan),
            {},
            r"finite number in every row of column 'TV'\. Received 1 missing "
            r"\(NaN\) values at index \[2\]\. Drop or fill",
        ),
        (_set(_frame(), "sales", 0, np.inf), {}, r"column 'sales'\. Received 1 missing or infinite"),
        (
            _set(_frame(), "TV", 4, -5.0),
            {"with_budget_check": True},
            r"non-negative budgets in column 'TV'\. Received 1 negative values, e\.g\. -5\.0 at index \[4\].*"
            r"with_budget_check=False",
        ),
        (_frame(3), {"min_rows": 5}, r"at least 5 rows \(one per cross-validation fold\)\. Received: 3 rows"),
        (_frame().assign(radio=True), {}, r"column 'radio'\. Received booleans"),
        # Finite in float64, infinite in the float32 the model computes in (the run used to diverge).
        (_set(_frame(), "TV", 1, 1e308), {}, r"fit in float32 .* column 'TV'.*e\.g\. 1e\+308 at index \[1\]"),
        (
            pd.concat([_frame(), _frame()[["TV"]]], axis=1),  # a bare TypeError before
            {},
            r"expected one column per name\. Received a table with \['TV'\] more than once",
        ),
    ],
    ids=[
        "missing-feature",
        "missing-target",
        "non-numeric",
        "nan",
        "inf",
        "negative",
        "too-few-rows",
        "bool",
        "float32-overflow",
        "repeated-column",
    ],
)
def test_bad_frames_raise_data_validation_error(frame, kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        validate_frame(frame, FEATURES, "sales", **kwargs)


def test_negative_values_pass_without_the_budget_check():
    frame = _set(_frame(), "TV", 4, -5.0)
    assert validate_frame(frame, FEATURES, "sales").x[4, 0] == -5.0


def test_many_bad_rows_are_summarized():
    frame = _frame(20).assign(TV=np.nan)
    with pytest.raises(
        DataValidationError,
        match=r"Received 20 missing \(NaN\) values at index \[0, 1, 2, 3, 4, "
        r"\.\.\. 15 more\]",
    ):
        validate_frame(frame, FEATURES, "sales")


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="expected a pandas DataFrame. Received: dict"):
        validate_frame({"TV": [1.0]}, FEATURES, "sales")


def test_read_csv_errors(tmp_path):
    with pytest.raises(DatasetUnavailable, match="no CSV file at .*missing.csv"):
        read_csv(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataValidationError, match="expected a CSV file with a header row"):
        read_csv(tmp_path / "empty.csv")


def test_read_csv_refuses_a_repeated_column_name(tmp_path):
    # pandas would read the second as 'TV.1', and the run would go on with the first.
    path = tmp_path / "twice.csv"
    path.write_text("TV,radio,TV,sales\n1,2,3,4\n")
    with pytest.raises(DataValidationError, match=r"distinct column names .* Received \['TV'\] more than once"):
        read_csv(path)


def test_read_csv_then_validate_reports_the_bad_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("TV,radio,sales\n1,2,3\n4,,6\n")
    with pytest.raises(DataValidationError, match=r"column 'radio'\. Received 1 missing \(NaN\) values at index \[1\]"):
        validate_frame(read_csv(path), FEATURES, "sales")


def test_fold_dataset_full_batch_and_mini_batches():
    x, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    weights = np.eye(5, 3)
    ((xb, yb, wb),) = list(make_fold_dataset(x, y, weights))
    assert xb.shape == (5, 2) and yb.shape == (5, 3, 1) and wb.shape == (5, 3)
    np.testing.assert_array_equal(yb.numpy()[:, 2, 0], y)  # every member sees the same target
    np.testing.assert_array_equal(wb.numpy(), weights)
    batches = list(make_fold_dataset(x, y, weights, batch_size=2, seed=0))
    assert [int(b[0].shape[0]) for b in batches] == [2, 2, 1]
    rows = np.concatenate([b[0].numpy() for b in batches])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), x[:, 0])  # shuffled, each row once
