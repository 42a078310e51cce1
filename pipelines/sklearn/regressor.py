"""`KerasRegressor`: any Keras model as a scikit-learn regressor, of one or several targets.

The model comes from a builder (`pipelines.sklearn.builders`): a pipeline net name or
your own function returning a `keras.Model` with one output per target column. An
uncompiled model is compiled with `optimizer` (and the `optimizer__` arguments), `loss`
(by default the mean squared error) and `metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from pipelines.errors import ConfigError, DataValidationError
from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.supervised import _KerasSupervised
from pipelines.sklearn.validation import ParameterConstraints

__all__ = ["KerasRegressor"]


class KerasRegressor(RegressorMixin, _KerasSupervised):
    """A Keras regressor as a scikit-learn estimator; `y` may have several columns.

    Args:
        model: A net name from `NETS` (`"mlp"`) or a function returning a `keras.Model`
            with one output per target column. Defaults to `"mlp"`.
        optimizer: A Keras optimizer name, class or instance (copied for each fit); its
            arguments go in `optimizer__<arg>`. Defaults to `"adam"`.
        loss: A Keras loss; `None` is the mean squared error. Defaults to `None`.
        metrics: Keras metrics reported in `history_`. Defaults to `None`.
        epochs: Epochs per `fit`. Defaults to `10`.
        batch_size: Samples per gradient step and per prediction batch. Defaults to `32`.
        validation_split: Share of the samples held out (the last ones, as Keras does)
            to report validation metrics in `history_`. Defaults to `0.0`.
        callbacks: Keras callbacks for `fit`. Defaults to `None`.
        random_state: An int makes a fit reproducible (weights, dropout, shuffling);
            `None` leaves Keras's seeding alone. Defaults to `None`.
        warm_start: `fit` trains the fitted model further instead of a new one.
            Defaults to `False`.
        verbose: Keras's verbosity (0, 1 or 2). Defaults to `0`.
        **routed: `model__<arg>`, `fit__<arg>` and `optimizer__<arg>` parameters.

    Attributes:
        model_: The trained `keras.Model`.
        n_features_in_: Features of `X`.
        n_outputs_: Target columns.
        history_: Per-epoch logs of every fit so far.
        n_iter_: Epochs trained so far.

    Example:
        >>> from sklearn.datasets import make_regression
        >>> X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
        >>> reg = KerasRegressor(model__widths=(32,), epochs=30, optimizer__learning_rate=0.01,
        ...                      random_state=0).fit(X, y)
        >>> reg.predict(X[:3]).shape, reg.score(X, y) > 0.9
        ((3,), True)
    """

    _task = "regression"
    _parameter_constraints: ParameterConstraints = {
        **BaseKerasEstimator._parameter_constraints,
        "model": [str, callable],
    }

    def __init__(
        self,
        *,
        model: str | Callable[..., keras.Model] = "mlp",
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.model = model
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

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> KerasRegressor:
        """Trains one epoch on `(X, y)`; the first call builds the model. Returns `self`."""
        return self._fit(X, y, sample_weight, epochs=1, reset=not self._is_fitted())

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, float64: `(n_samples,)` for a 1-D `y`, else `(n_samples, n_outputs_)`.

        Raises:
            NotFittedError: Before `fit`.
            DataValidationError: `X` does not match the training data's features.
        """
        check_is_fitted(self)
        raw = self._predict_raw(X).astype(np.float64)
        raw = raw.reshape(len(raw), -1)
        return raw[:, 0] if self.y_ndim_ == 1 else raw

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        return tags

    # ------------------------------------------------------------------ hooks

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _prepare_y(self, X: np.ndarray, y: Any, *, reset: bool, classes: Any = None) -> np.ndarray:
        self._require_y(y)
        try:
            y = check_array(y, ensure_2d=False, dtype=np.float32, input_name="y")
        except ValueError as e:
            raise DataValidationError(str(e)) from e
        if y.ndim not in (1, 2) or len(y) != len(X):
            raise DataValidationError(
                f"expected y of shape (n_samples,) or (n_samples, n_outputs) with "
                f"n_samples={len(X)}. Received: y of shape {y.shape}."
            )
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if reset:
            self.y_ndim_, self.n_outputs_ = y.ndim, n_outputs
        elif n_outputs != self.n_outputs_:
            raise DataValidationError(f"y has {n_outputs} columns, but the model was fitted with {self.n_outputs_}.")
        return y.reshape(len(y), -1)

    def _default_loss(self, model: keras.Model) -> keras.losses.Loss:
        if model.output_shape[-1] != self.n_outputs_:
            raise ConfigError(
                f"the model has {model.output_shape[-1]} outputs but y has {self.n_outputs_} columns. "
                "Give the model one output per target column; builders receive `n_outputs`."
            )
        return keras.losses.MeanSquaredError()
