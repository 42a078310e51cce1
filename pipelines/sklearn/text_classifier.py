"""`TextClassifier`: the sentiment pipeline's vectorizer and recurrent net as a classifier of raw strings."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from pipelines.errors import DataValidationError
from pipelines.sklearn.builders import call_with_meta
from pipelines.sklearn.classifier import KerasClassifier
from pipelines.sklearn.validation import Interval, ParameterConstraints

__all__ = ["TextClassifier"]

# Texts per vectorizer call: one call per text would cost ~100x more overhead.
VECTORIZE_BATCH = 1024


class TextClassifier(KerasClassifier):
    """The sentiment pipeline's text model as a scikit-learn classifier of raw strings.

    `fit` adapts the pipeline's `TextVectorization` (`make_vectorizer`: lowercasing,
    HTML tags and punctuation removed) on the training texts only, then trains
    `make_text_rnn` (embeddings -> bidirectional LSTM -> masked max pooling) on the token
    ids. Two classes use its single logit; more classes get one logit each. Arguments of
    `make_text_rnn` are routed with `model__` (`model__embed_dim`, `model__units`, ...).

    Args:
        max_tokens: Vocabulary size, padding and out-of-vocabulary ids included.
            Defaults to `20000`.
        sequence_length: Token ids kept per text; longer texts are cut (see
            `head_fraction`). Defaults to `200`.
        head_fraction: Share of `sequence_length` a longer text keeps from its start; the
            rest comes from its end, where reviews often give their verdict, as in the
            sentiment pipeline. `1.0` keeps the start only. Defaults to `0.375`.
        optimizer: Keras optimizer name, class or instance. Defaults to `"adam"`.
        loss: Keras loss; `None`: the cross-entropy of the logits. Defaults to `None`.
        metrics: Keras metrics for `history_`. Defaults to `None`.
        epochs: Epochs per fit. Defaults to `3`.
        batch_size: Texts per step. Defaults to `32`.
        validation_split: Share held out for `history_`'s validation metrics. Defaults to `0.0`.
        callbacks: Keras callbacks. Defaults to `None`.
        class_weight: `None`, `"balanced"` or `{label: weight}`. Defaults to `None`.
        random_state: Seed of the fit. Defaults to `None`.
        warm_start: `fit` trains the fitted model further (the vocabulary is kept).
            Defaults to `False`.
        verbose: Keras's verbosity. Defaults to `0`.
        **routed: `model__`, `fit__` and `optimizer__` parameters.

    Attributes:
        model_: The trained `keras.Model` (token ids -> logits).
        vectorizer_: A `keras.Model` holding the adapted `TextVectorization`
            (strings `(n, 1)` -> ids).
        classes_: The class labels.

    Example:
        >>> texts = ["a good film", "great acting", "a bad film", "dull plot"] * 8
        >>> labels = ["pos", "pos", "neg", "neg"] * 8
        >>> clf = TextClassifier(model__embed_dim=8, model__units=(4,), epochs=20,
        ...                      optimizer__learning_rate=0.02, random_state=0).fit(texts, labels)
        >>> clf.predict(["good acting", "a dull film"]).tolist()
        ['pos', 'neg']
    """

    _keras_attributes = ("model_", "vectorizer_")
    _parameter_constraints: ParameterConstraints = {
        **{k: v for k, v in KerasClassifier._parameter_constraints.items() if k != "model"},
        "max_tokens": [Interval(Integral, 3, None, closed="left")],
        "sequence_length": [Interval(Integral, 1, None, closed="left")],
        "head_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        max_tokens: int = 20000,
        sequence_length: int = 200,
        head_fraction: float = 0.375,
        optimizer: str | keras.optimizers.Optimizer | type = "adam",
        loss: str | keras.losses.Loss | Callable | None = None,
        metrics: list | None = None,
        epochs: int = 3,
        batch_size: int = 32,
        validation_split: float = 0.0,
        callbacks: list[keras.callbacks.Callback] | None = None,
        class_weight: dict | str | None = None,
        random_state: int | np.random.RandomState | None = None,
        warm_start: bool = False,
        verbose: int = 0,
        **routed: Any,
    ) -> None:
        self.max_tokens = max_tokens
        self.sequence_length = sequence_length
        self.head_fraction = head_fraction
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

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = False
        tags.input_tags.string = True
        return tags

    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray:
        from pipelines.inputs.text_dataset import head_tokens_for, make_vectorizer

        texts = _as_texts(X)
        if reset:
            vectorizer = make_vectorizer(
                texts,
                self.max_tokens,
                self.sequence_length,
                head_tokens=head_tokens_for(self.sequence_length, self.head_fraction),
            )
            strings = keras.Input(shape=(1,), dtype="string", name="text")
            self.vectorizer_ = keras.Model(strings, vectorizer(strings), name="vectorizer")
        ids = np.concatenate(
            [
                np.asarray(self.vectorizer_(texts[i : i + VECTORIZE_BATCH, None]), dtype=np.int32)
                for i in range(0, len(texts), VECTORIZE_BATCH)
            ]
        )
        # Padding (id 0) is only at the end and is masked, so the columns that are all
        # padding change nothing but the time spent on them.
        used = int(np.max(np.count_nonzero(ids, axis=1), initial=1))
        return ids[:, : max(used, 1)]

    def _predict_raw(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        ids = self._validate_X(X, reset=False)
        # Only padding (0) and out-of-vocabulary (1) ids: the net would see no evidence and
        # give every such text the same answer, which is not a prediction about the text.
        unknown = np.flatnonzero((ids < 2).all(axis=1))
        if unknown.size:
            shown = unknown[:5].tolist()
            example = str(_as_texts(X)[unknown[0]])[:40]
            raise DataValidationError(
                f"expected texts with a word the model knows (its vocabulary, learned in fit, has "
                f"{self.vectorizer_.layers[-1].vocabulary_size() - 2} words). Received {unknown.size} texts without "
                f"one, at index {shown}{' ...' if unknown.size > 5 else ''}, e.g. {example!r}. "
                "Drop those texts, or fit on texts that cover their words (or a larger max_tokens)."
            )
        return self._run_model(self.model_, ids)

    def _build_model(self, X: np.ndarray, y: np.ndarray) -> keras.Model:
        from pipelines.nets.rnn import make_text_rnn

        vocab_size = self.vectorizer_.layers[-1].vocabulary_size()
        net = call_with_meta(make_text_rnn, self._routed("model__"), {"vocab_size": vocab_size})
        if len(self.classes_) == 2:
            return net
        # More classes: the same body with one logit per class in place of the single one.
        logits = keras.layers.Dense(len(self.classes_), dtype="float32", name="logits")(net.layers[-2].output)
        return keras.Model(net.inputs, logits, name=net.name)

    def _run_model(self, model: keras.Model, X: np.ndarray) -> np.ndarray:
        # Recurrent layers called eagerly step through time in Python; predict compiles.
        return np.asarray(model.predict(X, batch_size=max(self.batch_size, 256), verbose=0))


def _as_texts(X: Any) -> np.ndarray:
    from pipelines.inputs.text import check_texts

    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise DataValidationError(
                f"expected one text column. Received a DataFrame with columns {list(X.columns)}. "
                "Select the text column, e.g. df['text']."
            )
        X = X.iloc[:, 0]
    array = np.asarray(X, dtype=object) if not isinstance(X, str) else X
    if isinstance(array, np.ndarray) and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]  # a ColumnTransformer's single text column
    if isinstance(array, np.ndarray) and array.ndim != 1:
        raise DataValidationError(f"expected a list or 1-D array of strings. Received: shape {array.shape}.")
    if len(array) == 0:
        raise DataValidationError("expected at least one text. Received: 0 texts.")
    try:
        return check_texts(array, where="X")
    except TypeError as e:
        raise DataValidationError(f"{e} Pass a list of strings, e.g. [text].") from e
