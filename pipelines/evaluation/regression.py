"""Regression metrics and K-fold cross-validation bookkeeping.

A cross-validated model is judged by its out-of-fold predictions: row `i` predicted by
the model that did not train on it. `cv_metrics` scores each fold's held-out rows and
reports the mean and the standard deviation over folds, under fixed metric names.

Example:
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> regression_metrics(y, y + 0.5)
    {'r2': 0.8, 'rmse': 0.5, 'mae': 0.5}
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from pipelines.errors import DataValidationError

__all__ = ["regression_metrics", "cv_metrics", "CV_METRICS"]

# The order of the per-model metric names in reports and tables.
CV_METRICS = ("r2", "rmse", "mae")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Computes R^2, root mean squared error and mean absolute error.

    Args:
        y_true: Targets, shape `(n,)`, `n >= 2`.
        y_pred: Predictions, shape `(n,)` or `(n, 1)`.

    Returns:
        `{"r2", "rmse", "mae"}` as Python floats.

    Raises:
        DataValidationError: Shapes disagree, a value is not finite, or `n < 2`.
    """
    y_true, y_pred = _validated(y_true, y_pred)
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
    }


def cv_metrics(y_true: np.ndarray, oof: np.ndarray, fold_ids: np.ndarray, *, prefix: str = "") -> dict[str, float]:
    """Mean and standard deviation over folds of each held-out fold's R^2, RMSE and MAE.

    The standard deviation is the sample one (`ddof=1`): the folds are a sample of the
    splits one could have drawn.

    Args:
        y_true: Targets, shape `(n,)`.
        oof: Out-of-fold predictions, shape `(n,)`.
        fold_ids: Fold index of every row, shape `(n,)`; each fold needs >= 2 rows.
        prefix: Prepended to every name (`"ols_"` gives `ols_cv_r2_mean`). Defaults
            to `""`.

    Returns:
        `{prefix}cv_{r2,rmse,mae}_{mean,std}` as Python floats.

    Raises:
        DataValidationError: Shapes disagree, a value is not finite, or a fold has
            fewer than 2 rows.

    Example:
        >>> y = np.arange(8.0)
        >>> m = cv_metrics(y, y + 1.0, np.array([0, 1] * 4), prefix="ols_")
        >>> m["ols_cv_rmse_mean"], m["ols_cv_rmse_std"]
        (1.0, 0.0)
    """
    y_true, oof = _validated(y_true, oof)
    fold_ids = np.asarray(fold_ids)
    if fold_ids.shape != y_true.shape:
        raise DataValidationError(
            f"expected one fold id per row ({y_true.shape}). Received: fold_ids of shape {fold_ids.shape}."
        )
    per_fold = [regression_metrics(y_true[fold_ids == k], oof[fold_ids == k]) for k in np.unique(fold_ids)]
    out = {}
    for name in CV_METRICS:
        values = np.array([fold[name] for fold in per_fold])
        out[f"{prefix}cv_{name}_mean"] = float(values.mean())
        out[f"{prefix}cv_{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return out


def _validated(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred[:, 0]
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise DataValidationError(
            f"expected y_true and y_pred of the same shape (n,). Received: {y_true.shape} and {y_pred.shape}."
        )
    if len(y_true) < 2:
        raise DataValidationError(f"expected at least 2 samples for R^2. Received: {len(y_true)}.")
    if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
        raise DataValidationError(
            "expected finite targets and predictions. Received non-finite values "
            f"({int((~np.isfinite(y_pred)).sum())} in y_pred; NaN usually means the model diverged)."
        )
    return y_true, y_pred
