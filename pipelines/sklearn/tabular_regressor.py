"""`TabularRegressor`: the advertising pipeline's MLP as a regressor of a DataFrame or an array."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pandas as pd

from pipelines.errors import DataValidationError
from pipelines.sklearn.builders import NETS, call_with_meta
from pipelines.sklearn.regressor import KerasRegressor
from pipelines.sklearn.validation import ParameterConstraints

__all__ = ["TabularRegressor"]


class TabularRegressor(KerasRegressor):
    """The advertising pipeline's MLP as a scikit-learn regressor of a DataFrame or an array.

    The net (`pipelines.nets.mlp.make_mlp`) standardizes its inputs and targets inside
    the model (`Normalization` layers adapted on the training data), so it needs no
    scaler in front. Columns must be numeric: encode categories first, e.g. with a
    `ColumnTransformer` and a `OneHotEncoder`. `model__widths` and `model__activation`
    set the net.

    Args:
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: mean squared error. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `100`.
        batch_size: Rows per step. Defaults to `32`.
        validation_split: Share held out for `history_`'s validation metrics. Defaults to `0.0`.
        callbacks: Keras callbacks. Defaults to `None`.
        random_state: Seed of the fit. Defaults to `None`.
        warm_start: `fit` trains the fitted model further. Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__`, `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained `keras.Model` (raw features -> raw targets).
        n_features_in_: Columns of `X`.
        feature_names_in_: Column names, when `X` was a DataFrame with string names.

    Example:
        >>> frame = pd.DataFrame({"tv": np.linspace(0, 1, 64), "radio": np.linspace(1, 0, 64) ** 2})
        >>> sales = 3 * frame["tv"] + frame["radio"]
        >>> reg = TabularRegressor(model__widths=(16,), epochs=30, optimizer__learning_rate=0.01,
        ...                        random_state=0).fit(frame, sales)
        >>> reg.feature_names_in_.tolist(), reg.score(frame, sales) > 0.9
        (['tv', 'radio'], True)
    """

    _parameter_constraints: ParameterConstraints = {
        k: v for k, v in KerasRegressor._parameter_constraints.items() if k != "model"
    }

    def __init__(
        self,
        *,
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 100,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = False
        return tags

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            text = [
                str(c)
                for c, dtype in X.dtypes.items()
                if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
            ]
            if text:
                raise DataValidationError(
                    f"expected numeric columns. Received non-numeric columns {text}. Encode them first, e.g. "
                    "ColumnTransformer([('cat', OneHotEncoder(), [...])], remainder='passthrough')."
                )
        X = super()._validate_X(X, reset=reset)
        if X.ndim != 2:
            raise DataValidationError(f"expected a table (n_samples, n_features). Received: shape {X.shape}.")
        return X

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        return call_with_meta(NETS["mlp"], self._routed("model__"), self._meta(X, y))
