"""The Keras-wrapping machinery every estimator of `pipelines.sklearn` shares.

`BaseKerasEstimator` turns "a function that builds a `keras.Model`" into a scikit-learn
estimator. It owns what does not depend on the task:

- parameter routing: keyword arguments named `model__<arg>` go to the model-building
  function, `fit__<arg>` to `keras.Model.fit`, `optimizer__<arg>` to the optimizer. They
  are parameters like any other: `get_params`, `set_params`, `clone` and `GridSearchCV`
  see them;
- seeding: an integer `random_state` makes the weight initialization, dropout and
  shuffling of a fit reproducible;
- training: `fit` (from scratch, or on from the fitted model with `warm_start=True`) and
  `partial_fit` (one epoch on the batch it gets), with `sample_weight`, `callbacks` and
  `validation_split`;
- pickling and `copy.deepcopy`: fitted Keras models travel as `.keras` bytes and are
  reloaded with `safe_mode=True`, which refuses files that could run code.

The seeding itself is in `pipelines.sklearn.seeding`, the `.keras` bytes in
`pipelines.sklearn.serialization`.

Subclasses say how inputs are checked (`_validate_X`), how targets are encoded
(`_prepare_y`), how the model is built (`_build_model`) and compiled (`_default_loss`),
and list in `_keras_attributes` every fitted attribute that holds a Keras model.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from pipelines.errors import ConfigError, DataValidationError, TrainingDivergedError
from pipelines.sklearn.seeding import _seeded
from pipelines.sklearn.serialization import model_from_bytes, model_to_bytes
from pipelines.sklearn.validation import (
    Interval,
    InvalidParameterError,
    ParameterConstraints,
    check_sample_weight,
    validate_parameter_constraints,
)

__all__ = ["BaseKerasEstimator", "ROUTE_PREFIXES", "model_to_bytes", "model_from_bytes"]

# Keyword arguments routed to the model builder, Keras's fit and the optimizer.
ROUTE_PREFIXES = ("model__", "fit__", "optimizer__")
# `fit__` keys that an explicit parameter or argument already sets: accepting both would
# make one of them silently lose.
_OWN_FIT_ARGUMENTS = {
    "x": "X",
    "y": "y",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "verbose": "verbose",
    "validation_split": "validation_split",
    "callbacks": "callbacks",
    "sample_weight": "sample_weight",
    "class_weight": "class_weight",
    "initial_epoch": "warm_start",
}
# Rows per direct model call in prediction: bounds the memory of one call.
PREDICT_CHUNK = 1024


class BaseKerasEstimator(BaseEstimator):
    """Base class of the Keras estimators; not an estimator by itself.

    Subclasses define `__init__` with their explicit keyword-only parameters and a
    `**routed` catch-all that they pass to `_store_routed`; `fit` refuses routed names
    without a known prefix.
    """

    # Fitted attributes holding Keras models; pickled as `.keras` bytes.
    _keras_attributes: tuple[str, ...] = ("model_",)

    _parameter_constraints: ParameterConstraints = {
        "optimizer": [str, type, keras.optimizers.Optimizer],
        "loss": [None, str, callable, keras.losses.Loss],
        "metrics": [None, list, tuple],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "callbacks": [None, list, tuple],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ parameters

    def _store_routed(self, routed: dict[str, Any]) -> None:
        # Kept whole in one private dict: scikit-learn's checks allow no public attribute
        # beyond the signature's parameters, and __init__ must not validate. Names
        # without a routing prefix (typos such as `epoch=3`) are refused by `fit`.
        self._routed_kwargs = dict(routed)

    def _routed_params(self) -> dict[str, Any]:
        return dict(getattr(self, "_routed_kwargs", {}))

    def _routed(self, prefix: str) -> dict[str, Any]:
        """The routed parameters of one destination, prefix removed (a fresh dict)."""
        return {key[len(prefix) :]: value for key, value in self._routed_params().items() if key.startswith(prefix)}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters, the routed `model__`/`fit__`/`optimizer__` ones included."""
        params = super().get_params(deep=deep)
        params.update(self._routed_params())
        return params

    def set_params(self, **params: Any) -> BaseKerasEstimator:
        """Sets parameters; routed ones (`model__units=...`) are stored as they are.

        scikit-learn would read `model__units` as "parameter `units` of the nested
        estimator `model`"; here `model` is a function, so routed names are kept whole.
        """
        stored = self._routed_params()
        routed = {key: value for key, value in params.items() if key.startswith(ROUTE_PREFIXES) or key in stored}
        super().set_params(**{key: value for key, value in params.items() if key not in routed})
        self._routed_kwargs = {**stored, **routed}
        return self

    # ------------------------------------------------------------------ training

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> BaseKerasEstimator:
        """Trains the model for `epochs` epochs.

        With `warm_start=False` (the default) every call builds and compiles a new model;
        with `warm_start=True` a fitted estimator trains its model further.

        Args:
            X: The inputs.
            y: The targets.
            sample_weight: One non-negative weight per sample, multiplying its loss.
                Defaults to `None` (all 1).

        Returns:
            `self`.

        Raises:
            ConfigError: A parameter is out of range or conflicts with another.
            DataValidationError: `X`, `y` or `sample_weight` has the wrong shape or content.
            TrainingDivergedError: The training loss became NaN or infinite.
        """
        is_warm = bool(self.warm_start) and self._is_fitted()
        return self._fit(X, y, sample_weight, epochs=self.epochs, reset=not is_warm)

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, epochs: int, reset: bool, classes: Any = None) -> Any:
        self._validate_common()
        X = self._validate_X(X, reset=reset)
        y = self._prepare_y(X, y, reset=reset, classes=classes)
        weights = self._sample_weights(X, y, sample_weight)
        with _seeded(self.random_state) as seed:
            if reset:
                self._seed_ = seed
                self.model_ = self._build_compiled_model(X, y)
                self.history_: dict[str, list[float]] = {}
                self.n_iter_ = 0
            logs = self._fit_keras(X, y, weights, epochs=epochs, seed=seed)
        for key, values in logs.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)
        losses = [float(v) for v in logs.get("loss", [])]
        self.n_iter_ += len(losses)
        if any(not math.isfinite(v) for v in losses):
            raise TrainingDivergedError(
                f"the training loss became non-finite (losses per epoch: {losses}). Lower the learning rate "
                f"(optimizer__learning_rate=...), scale the inputs, or check the targets for extreme values."
            )
        return self

    def _fit_keras(
        self, X: Any, y: Any, sample_weight: np.ndarray | None, *, epochs: int, seed: int | None
    ) -> dict[str, list[float]]:
        """Runs `keras.Model.fit` and returns its per-epoch logs."""
        history = self.model_.fit(
            X,
            y,
            sample_weight=sample_weight,
            epochs=epochs,
            batch_size=self.batch_size,
            validation_split=self.validation_split,
            callbacks=list(self.callbacks or []),
            verbose=self.verbose,
            **self._routed("fit__"),
        )
        return history.history

    def _build_compiled_model(self, X: Any, y: Any) -> keras.Model:
        model = self._build_model(X, y)
        if not isinstance(model, keras.Model):
            raise ConfigError(f"expected the model builder to return a keras.Model. Received: {type(model).__name__}")
        if model.compiled:
            # The builder chose its own optimizer and loss; routed optimizer arguments or
            # a `loss` would then be ignored, so they are refused instead.
            if self._routed("optimizer__") or self.loss is not None:
                raise ConfigError(
                    "the model builder returned a compiled model, so `optimizer__*` and `loss` would be ignored. "
                    f"Received: loss={self.loss!r}, optimizer arguments {sorted(self._routed('optimizer__'))}. "
                    "Return an uncompiled model, or drop those parameters."
                )
            return model
        model.compile(
            optimizer=self._make_optimizer(),
            loss=self.loss if self.loss is not None else self._default_loss(model),
            metrics=self.metrics,
        )
        return model

    def _make_optimizer(self) -> keras.optimizers.Optimizer:
        """A new optimizer from `optimizer` and the `optimizer__` arguments.

        A fresh instance per fit: a Keras optimizer is bound to the variables of the first
        model it trains, so an instance shared across refits or clones would fail.
        """
        spec, kwargs = self.optimizer, self._routed("optimizer__")
        try:
            if isinstance(spec, str):
                base = keras.optimizers.get(spec)
            elif isinstance(spec, keras.optimizers.Optimizer):
                base = spec
            elif isinstance(spec, type) and issubclass(spec, keras.optimizers.Optimizer):
                base = spec()
            else:
                raise ConfigError(
                    "expected optimizer to be a name ('adam'), a keras.optimizers.Optimizer subclass or instance. "
                    f"Received: optimizer={spec!r}"
                )
            return type(base).from_config({**base.get_config(), **kwargs})
        except (ValueError, TypeError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"cannot build optimizer {spec!r} with arguments {kwargs}: {e}") from e

    def _sample_weights(self, X: Any, y: Any, sample_weight: Any) -> np.ndarray | None:
        if sample_weight is None:
            return None
        try:
            weights = check_sample_weight(sample_weight, X, dtype=np.float32)
        except ValueError as e:
            raise DataValidationError(str(e)) from e
        return weights

    def _validate_common(self) -> None:
        try:
            validate_parameter_constraints(
                self._parameter_constraints, self.get_params(deep=False), caller_name=type(self).__name__
            )
        except InvalidParameterError as e:
            raise ConfigError(str(e)) from e
        unknown = [key for key in self._routed_params() if not key.startswith(ROUTE_PREFIXES) or key in ROUTE_PREFIXES]
        if unknown:
            raise ConfigError(
                f"unknown parameters {sorted(unknown)} of {type(self).__name__}. Its parameters are "
                f"{sorted(super().get_params(deep=False))}, plus routed ones named "
                f"{', '.join(p + '<arg>' for p in ROUTE_PREFIXES)}."
            )
        clashes = {key: _OWN_FIT_ARGUMENTS[key] for key in self._routed("fit__") if key in _OWN_FIT_ARGUMENTS}
        if clashes:
            raise ConfigError(
                f"fit__ arguments {sorted(clashes)} are set by the estimator itself. "
                f"Pass {', '.join(sorted(set(clashes.values())))} instead."
            )

    def _is_fitted(self) -> bool:
        return hasattr(self, "model_")

    # ------------------------------------------------------------------ prediction

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return self._run_model(self.model_, self._validate_X(X, reset=False))

    def _run_model(self, model: keras.Model, X: Any) -> np.ndarray:
        """The model's outputs on `X`, computed by direct calls on chunks of rows.

        Direct calls rather than `model.predict`: `predict` traces a graph function per
        new model, which costs 0.3-0.8 s on 2 cores, far more than a tabular or image net
        takes on thousands of rows (measured 0.05 s for 300 rows). Subclasses whose nets
        loop in Python when called eagerly (recurrent layers) use `predict` instead.
        """
        if len(X) == 0:
            return np.asarray(model.predict(X, verbose=0))
        chunks = [
            keras.ops.convert_to_numpy(model(X[i : i + PREDICT_CHUNK], training=False))
            for i in range(0, len(X), PREDICT_CHUNK)
        ]
        return np.concatenate(chunks, axis=0)

    # ------------------------------------------------------------------ hooks

    def _validate_X(self, X: Any, *, reset: bool) -> Any:
        raise NotImplementedError

    def _prepare_y(self, X: Any, y: Any, *, reset: bool, classes: Any = None) -> Any:
        raise NotImplementedError

    def _build_model(self, X: Any, y: Any) -> keras.Model:
        raise NotImplementedError

    def _default_loss(self, model: keras.Model) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # A copy: on Python >= 3.11 BaseEstimator returns the live `__dict__`, and the
        # bytes must not replace the estimator's own model.
        state = dict(super().__getstate__())
        for name in self._keras_attributes:
            if state.get(name) is not None:
                state[name] = model_to_bytes(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in self._keras_attributes:
            if isinstance(state.get(name), bytes):
                state[name] = model_from_bytes(state[name])
        super().__setstate__(state)
