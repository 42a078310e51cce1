"""Keras models as bytes: the `.keras` archives that fitted estimators pickle their models as.

Loading goes through `pipelines.models.load_model`, with `safe_mode=True`.
"""

from __future__ import annotations

import os
import tempfile

import keras

from pipelines.errors import ModelLoadError

__all__ = ["model_to_bytes", "model_from_bytes"]


def model_to_bytes(model: keras.Model) -> bytes:
    """The `.keras` archive of `model` (architecture, weights, optimizer state), as bytes.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model_to_bytes(model)[:2]  # a zip archive
        b'PK'
    """
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(data: bytes) -> keras.Model:
    """The model of a `.keras` archive's bytes, loaded with `safe_mode=True`.

    Custom layers must be registered with `keras.saving.register_keras_serializable`
    (the package's own are registered on import).

    Raises:
        ModelLoadError: The bytes are not a loadable `.keras` archive, or loading them
            would need unsafe deserialization (e.g. a Lambda layer).

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model_from_bytes(model_to_bytes(model)).output_shape
        (None, 1)
    """
    from pipelines.models import load_model

    if not isinstance(data, bytes):
        raise ModelLoadError(f"expected the bytes of a .keras archive. Received: {type(data).__name__}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return load_model(path)
