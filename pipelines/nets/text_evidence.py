"""The last layer of a raw-text model: no known word, no prediction (NaN).

A text whose ids are all padding (0) or out-of-vocabulary (1) gives the net nothing to
read: an empty text, only punctuation, or only words the vocabulary never saw. The net
would still return a number, the same one for every such text, which a caller cannot
tell from a real prediction. `NaNWithoutKnownWords` passes the scores of texts that hold
a known word and puts NaN in place of the others, so the saved sentiment model says
"no prediction" instead. It is registered with Keras, so a model holding it reloads with
`safe_mode=True` once this module is imported.

Example:
    >>> ids = np.array([[5, 1, 0], [1, 0, 0], [0, 0, 0]])
    >>> scores = np.array([[0.9], [0.4], [0.4]], "float32")
    >>> NaNWithoutKnownWords()([ids, scores]).numpy()[:, 0].tolist()
    [0.8999999761581421, nan, nan]
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

__all__ = ["NaNWithoutKnownWords", "FIRST_WORD_ID"]

# TextVectorization's ids: 0 is padding, 1 the out-of-vocabulary token, words start at 2.
FIRST_WORD_ID = 2


@keras.saving.register_keras_serializable(package="pipelines", name="NaNWithoutKnownWords")
class NaNWithoutKnownWords(keras.layers.Layer):
    """`[ids (n, length), scores (n, k)]` -> scores, NaN in the rows whose ids hold no known word."""

    def call(self, inputs: Any) -> Any:
        ids, scores = inputs
        known = keras.ops.any(keras.ops.greater_equal(ids, FIRST_WORD_ID), axis=1, keepdims=True)
        return keras.ops.where(known, scores, keras.ops.full_like(scores, np.nan))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[1]
