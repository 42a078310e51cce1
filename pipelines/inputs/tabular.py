"""Tabular inputs: reading a CSV, validating a DataFrame, and the tf.data step of K-fold training.

`validate_frame` is the boundary check of every tabular pipeline: it turns a DataFrame
into float64 arrays, or raises `DataValidationError` naming the column, the row and the
value, before any model is built. `make_fold_dataset` serves the rows to a model that
trains one member per cross-validation fold at once (see `pipelines.nets.mlp`): each row
carries the target once per member and a 0/1 weight saying which members train on it.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"TV": [1.0, 2.0], "sales": [3.0, 4.0]})
    >>> data = validate_frame(frame, ["TV"], "sales")
    >>> data.x.shape, data.y.tolist()
    ((2, 1), [3.0, 4.0])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.errors import DatasetUnavailable, DataValidationError

__all__ = ["TabularData", "read_csv", "validate_frame", "make_fold_dataset"]

# Rows named in an error message; more would bury the message.
MAX_ROWS_SHOWN = 5


@dataclasses.dataclass(frozen=True)
class TabularData:
    """Validated numeric table.

    Attributes:
        x: Features, float64, shape `(n, len(features))`, columns in `features` order.
        y: Target, float64, shape `(n,)`.
        features: Feature column names.
        target: Target column name.
    """

    x: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    target: str


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Reads a CSV file with a header row.

    Args:
        path: The file.

    Returns:
        The DataFrame, as pandas parses it (columns may still be non-numeric).

    Raises:
        DatasetUnavailable: The file does not exist.
        DataValidationError: The file is empty or not parseable as CSV.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetUnavailable(f"no CSV file at {str(path)!r}. Pass `csv=` the path of an existing file.")
    try:
        frame = pd.read_csv(path)
        header = [str(name) for name in pd.read_csv(path, header=None, nrows=1).iloc[0]]
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise DataValidationError(
            f"expected a CSV file with a header row. Received: {str(path)!r}, which pandas cannot parse "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). Fix or re-export the file."
        ) from e
    # pandas renames a repeated name ('TV' and 'TV.1'), and the run would go on with either column.
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataValidationError(
            f"expected distinct column names in the header of {str(path)!r}. Received {repeated} more than "
            "once. Rename or drop the repeated columns."
        )
    return frame


def validate_frame(
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str,
    *,
    min_rows: int = 1,
    with_budget_check: bool = False,
) -> TabularData:
    """Checks a DataFrame and returns its feature matrix and target.

    Checks, in order: the columns exist; every value is numeric (numeric strings are
    accepted); none is missing or infinite; with `with_budget_check`, no feature is
    negative; there are at least `min_rows` rows.

    Args:
        frame: The data.
        features: Feature column names, in model input order.
        target: Target column name.
        min_rows: Fewest rows accepted (cross-validation needs one per fold). Defaults
            to `1`.
        with_budget_check: Reject negative feature values (budgets cannot be negative).
            Defaults to `False`.

    Returns:
        A `TabularData` with float64 arrays.

    Raises:
        TypeError: `frame` is not a pandas DataFrame.
        DataValidationError: Naming the first problem found, its rows and the fix.

    Example:
        >>> frame = pd.DataFrame({"TV": [1.0, -2.0], "sales": [3.0, 4.0]})
        >>> try:
        ...     validate_frame(frame, ["TV"], "sales", with_budget_check=True)
        ... except ValueError as e:
        ...     print(str(e)[:44])
        expected non-negative budgets in column 'TV'
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame. Received: {type(frame).__name__}")
    columns = [*features, target]
    repeated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()] if c in columns})
    if repeated:
        raise DataValidationError(
            f"expected one column per name. Received a table with {repeated} more than once. "
            "Rename or drop the repeated columns."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"expected columns {columns}. Received a table without {missing}; its columns are "
            f"{[str(c) for c in frame.columns]}. Pass `features=` and `target=` naming columns of the data."
        )
    numeric = {column: _numeric_column(frame[column], column) for column in columns}
    for column, values in numeric.items():
        bad = ~np.isfinite(values)
        if bad.any():
            kind = "missing (NaN)" if np.isnan(values[bad]).all() else "missing or infinite"
            raise DataValidationError(
                f"expected a finite number in every row of column {column!r}. Received {int(bad.sum())} "
                f"{kind} values at index {_rows(frame, bad)}. Drop or fill those rows first."
            )
        # Finite in float64 is not enough: the model computes in float32, where 1e308 is inf.
        too_large = np.abs(values) > np.finfo(np.float32).max
        if too_large.any():
            raise DataValidationError(
                f"expected values that fit in float32 (|x| <= {np.finfo(np.float32).max:.3g}) in column {column!r}, "
                f"which the model computes in. Received {int(too_large.sum())} larger values, e.g. "
                f"{values[too_large][0]:g} at index {_rows(frame, too_large)}. Rescale the column."
            )
    if with_budget_check:
        for column in features:
            negative = numeric[column] < 0
            if negative.any():
                first = int(np.argmax(negative))
                raise DataValidationError(
                    f"expected non-negative budgets in column {column!r}. Received {int(negative.sum())} "
                    f"negative values, e.g. {numeric[column][first]} at index {_rows(frame, negative)}. "
                    "Fix the data, or pass with_budget_check=False if the features are not budgets."
                )
    if len(frame) < min_rows:
        raise DataValidationError(
            f"expected at least {min_rows} rows (one per cross-validation fold). Received: {len(frame)} rows. "
            f"Pass more rows or fewer folds (folds <= {max(len(frame), 2)})."
        )
    x = np.stack([numeric[c] for c in features], axis=1) if features else np.zeros((len(frame), 0))
    return TabularData(x=x, y=numeric[target], features=tuple(features), target=target)


def make_fold_dataset(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    batch_size: int | None = None,
    seed: int | None = None,
) -> Any:
    """The tf.data input of a model with one member per fold, `(x, y, weight)` batches.

    `x` goes in once and every member sees every row; `weights[i, m]` (1 where member
    `m` trains on row `i`, else 0) masks the loss, so a member never learns from its
    held-out rows. The target is tiled to `(n, members, 1)` to match the model output.

    Args:
        x: Features, shape `(n, f)`.
        y: Target, shape `(n,)`.
        weights: Per-row, per-member loss weights, shape `(n, members)`.
        batch_size: Rows per batch; `None` serves all rows as one full batch. Defaults
            to `None`.
        seed: Shuffle seed for mini-batches (full batches are not shuffled). Defaults to
            `None`.

    Returns:
        A finite `tf.data.Dataset` of `(x, y, weight)` float32 batches; call `.repeat()`
        to train for several passes.

    Example:
        >>> ds = make_fold_dataset(np.zeros((4, 2)), np.arange(4.0), np.ones((4, 3)))
        >>> [tuple(t.shape) for t in next(iter(ds))]
        [(4, 2), (4, 3, 1), (4, 3)]
    """
    import tensorflow as tf  # only once a dataset is really built

    members = weights.shape[1]
    targets = np.repeat(y.astype("float32")[:, None, None], members, axis=1)
    ds = tf.data.Dataset.from_tensor_slices((x.astype("float32"), targets, weights.astype("float32")))
    if batch_size is None or batch_size >= len(y):
        # One batch of every row: nothing to shuffle, and cache() makes each pass free.
        return ds.batch(len(y)).cache()
    return ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def _numeric_column(series: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        raise DataValidationError(
            f"expected numbers in column {column!r}. Received booleans (dtype bool). Convert them to 0/1 first."
        )
    converted = pd.to_numeric(series, errors="coerce")
    bad = (converted.isna() & series.notna()).to_numpy()
    if bad.any():
        first = series[bad].iloc[0]
        raise DataValidationError(
            f"expected numbers in column {column!r}. Received {int(bad.sum())} non-numeric values, e.g. "
            f"{first!r} at index {_rows(series, bad)}. Fix or drop those rows."
        )
    return converted.to_numpy(dtype="float64", na_value=np.nan)


def _rows(frame: pd.DataFrame | pd.Series, mask: np.ndarray) -> str:
    labels = [str(label) for label in frame.index[mask][:MAX_ROWS_SHOWN]]
    more = int(mask.sum()) - len(labels)
    return "[" + ", ".join(labels) + (f", ... {more} more" if more > 0 else "") + "]"
