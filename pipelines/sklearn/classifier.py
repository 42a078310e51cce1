"""`KerasClassifier`: any Keras model as a scikit-learn classifier.

The model comes from a builder (`pipelines.sklearn.builders`): a pipeline net name or
your own function returning a `keras.Model`.

A classifier's model ends in one unit per class (softmax) or, for two classes, one unit
(sigmoid). Logits are expected, as the pipelines' nets give; a model whose last layer
has a softmax or sigmoid activation is read as giving probabilities instead. An
uncompiled model is compiled with `optimizer` (and the `optimizer__` arguments), `loss`
(by default the matching cross-entropy) and `metrics`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import column_or_1d

from pipelines.errors import ConfigError, DataValidationError
from pipelines.sklearn.base import BaseKerasEstimator
from pipelines.sklearn.supervised import _KerasSupervised
from pipelines.sklearn.validation import ParameterConstraints, StrOptions

__all__ = ["KerasClassifier"]


def _ends_in_probabilities(model: keras.Model) -> bool:
    # A last layer with a softmax or sigmoid activation gives probabilities; otherwise
    # the outputs are logits (as every net of the package gives).
    activation = getattr(model.layers[-1], "activation", None) if model.layers else None
    return activation in (keras.activations.softmax, keras.activations.sigmoid)


class KerasClassifier(ClassifierMixin, _KerasSupervised):
    """A Keras classifier as a scikit-learn estimator.

    Args:
        model: A net name from `NETS` (`"mlp"`, `"cnn"`, `"vit"`) or a function returning
            a `keras.Model`; see the module docstring for what it receives.
            Defaults to `"mlp"`.
        optimizer: A Keras optimizer name, class or instance (copied for each fit); its
            arguments go in `optimizer__<arg>`. Defaults to `"adam"`.
        loss: A Keras loss; `None` picks the cross-entropy matching the model's output.
            Defaults to `None`.
        metrics: Keras metrics reported in `history_`. Defaults to `None`.
        epochs: Epochs per `fit`. Defaults to `10`.
        batch_size: Samples per gradient step and per prediction batch. Defaults to `32`.
        validation_split: Share of the samples held out (the last ones, as Keras does)
            to report validation metrics in `history_`. Defaults to `0.0`.
        callbacks: Keras callbacks for `fit`. Defaults to `None`.
        class_weight: `None`, `"balanced"` or `{label: weight}`; multiplies the sample
            weights. Defaults to `None`.
        random_state: An int makes a fit reproducible (weights, dropout, shuffling);
            `None` leaves Keras's seeding alone. Defaults to `None`.
        warm_start: `fit` trains the fitted model further instead of a new one.
            Defaults to `False`.
        verbose: Keras's verbosity (0, 1 or 2). Defaults to `0`.
        **routed: `model__<arg>`, `fit__<arg>` and `optimizer__<arg>` parameters.

    Attributes:
        model_: The trained `keras.Model`.
        classes_: The class labels, sorted.
        n_features_in_: Features of `X` (its second dimension).
        history_: Per-epoch logs of every fit so far (`loss`, metrics, `val_*`).
        n_iter_: Epochs trained so far.

    Example:
        >>> from sklearn.datasets import make_classification
        >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
        >>> clf = KerasClassifier(model__widths=(16,), epochs=20, optimizer__learning_rate=0.01,
        ...                       random_state=0).fit(X, y)
        >>> clf.predict_proba(X[:2]).shape, clf.score(X, y) > 0.8
        ((2, 2), True)
    """

    _task = "classification"
    _parameter_constraints: ParameterConstraints = {
        **BaseKerasEstimator._parameter_constraints,
        "model": [str, callable],
        "class_weight": [None, dict, StrOptions({"balanced"})],
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
        class_weight: dict | str | None = None,
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
        self.class_weight = class_weight
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self._store_routed(routed)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> KerasClassifier:
        """Trains one epoch on `(X, y)`; the first call builds the model.

        Args:
            X: The inputs.
            y: The labels.
            classes: Every label the model will see, required on the first call
                (a batch may lack some). Defaults to `None`.
            sample_weight: Per-sample weights. Defaults to `None`.

        Returns:
            `self`.

        Raises:
            DataValidationError: `classes` missing on the first call, or a label not in
                `classes_`.
        """
        is_first = not self._is_fitted()
        if is_first and classes is None:
            raise DataValidationError(
                "the first partial_fit call needs classes=, every label the model will see "
                "(a batch may lack some). Received: classes=None."
            )
        return self._fit(X, y, sample_weight, epochs=1, reset=is_first, classes=classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float64 `(n_samples, n_classes)`, columns in `classes_` order.

        Raises:
            NotFittedError: Before `fit`.
            DataValidationError: `X` does not match the training data's features.
        """
        raw = self._predict_raw(X).astype(np.float64)
        raw = raw.reshape(len(raw), -1)
        is_probability = _ends_in_probabilities(self.model_)
        if raw.shape[1] == 1:
            positive = raw[:, 0] if is_probability else 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        if is_probability:
            return raw / raw.sum(axis=1, keepdims=True)
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))  # shift: exp of large logits overflows
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample, as a label of `classes_`."""
        probabilities = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(probabilities, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ hooks

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _meta(self, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        return {**super()._meta(X, y), "n_classes": len(self.classes_)}

    def _prepare_y(self, X: np.ndarray, y: Any, *, reset: bool, classes: Any = None) -> np.ndarray:
        self._require_y(y)
        try:
            y = column_or_1d(y, warn=True)
            check_classification_targets(y)
        except ValueError as e:
            raise DataValidationError(str(e)) from e
        if len(y) != len(X):
            raise DataValidationError(f"expected one label per sample. Received: {len(X)} samples, {len(y)} labels.")
        if type_of_target(y) not in ("binary", "multiclass"):
            raise DataValidationError(f"expected binary or multiclass labels. Received: {type_of_target(y)} targets.")
        if reset:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise DataValidationError(
                    f"a classifier needs at least two classes in y; received one class ({labels[0]!r}). "
                    "Pass samples of every class."
                )
            self.classes_ = labels
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise DataValidationError(
                f"y has labels {unseen[:5].tolist()} outside classes_ "
                f"{self.classes_[:10].tolist()}. Pass classes= on the first partial_fit."
            )
        return np.searchsorted(self.classes_, y).astype(np.int32)

    def _sample_weights(self, X: np.ndarray, y: np.ndarray, sample_weight: Any) -> np.ndarray | None:
        weights = super()._sample_weights(X, y, sample_weight)
        if self.class_weight is None:
            return weights
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            unknown = [label for label in class_weight if label not in set(self.classes_.tolist())]
            if unknown:
                raise ConfigError(f"class_weight names labels {unknown} that are not classes {self.classes_.tolist()}.")
            # Keyed by encoded class index, as `y` is encoded here.
            class_weight = {int(np.searchsorted(self.classes_, label)): w for label, w in class_weight.items()}
        by_class = compute_sample_weight(class_weight, y).astype(np.float32)
        return by_class if weights is None else weights * by_class

    def _default_loss(self, model: keras.Model) -> keras.losses.Loss:
        units = model.output_shape[-1]
        from_logits = not _ends_in_probabilities(model)
        if units == 1 and len(self.classes_) == 2:
            return keras.losses.BinaryCrossentropy(from_logits=from_logits)
        if units == len(self.classes_):
            return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        raise ConfigError(
            f"the model has {units} outputs but y has {len(self.classes_)} classes. "
            "Give the model one output per class (or one for two classes); builders receive "
            "`n_classes`."
        )

    def _fit_keras(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None, *, epochs: int, seed: int | None
    ) -> dict[str, list[float]]:
        units = self.model_.output_shape[-1]
        if units not in (len(self.classes_), 1) or (units == 1 and len(self.classes_) != 2):
            raise ConfigError(f"the model has {units} outputs but y has {len(self.classes_)} classes.")
        # A one-unit head trains on 0/1 floats shaped like its output.
        target = y.astype(np.float32)[:, None] if units == 1 else y
        return super()._fit_keras(X, target, sample_weight, epochs=epochs, seed=seed)
