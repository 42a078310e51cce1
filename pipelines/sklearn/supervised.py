"""The base `KerasClassifier` and `KerasRegressor` share: array inputs and a model from a builder.

The builder comes from the `model` parameter (`pipelines.sklearn.builders`) and is
called with the `model__` parameters and the meta arguments of `_meta`.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from sklearn.utils.validation import validate_data

from pipelines.errors import DataValidationError
from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.builders import call_with_meta, resolve_builder


class _KerasSupervised(BaseKerasEstimator):
    """What KerasClassifier and KerasRegressor share: array inputs and a builder."""

    _task: str = ""

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        try:
            # float32: what the nets compute in; nD arrays pass for the image nets.
            return validate_data(self, X, reset=reset, dtype=np.float32, allow_nd=True)
        except ValueError as e:
            raise DataValidationError(str(e)) from e

    def _meta(self, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {
            "X": X,
            "y": y,
            "input_shape": tuple(X.shape[1:]),
            "n_features_in": self.n_features_in_,
            "n_outputs": self._n_outputs(),
            "task": self._task,
        }

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        return call_with_meta(resolve_builder(self.model), self._routed("model__"), self._meta(X, y))

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _require_y(self, y: Any) -> None:
        if y is None:
            raise DataValidationError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. Pass the targets: fit(X, y)."
            )
