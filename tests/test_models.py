"""Tests of pipelines.models: untrusted files are refused with a clear error."""

from __future__ import annotations

import keras
import pytest

from pipelines.errors import ModelLoadError
from pipelines.models import load_model


def test_lambda_layer_is_refused(tmp_path):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda t: t * 2)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelLoadError, match="unsafe deserialization"):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no model file"):
        load_model(tmp_path / "absent.keras")


def test_not_a_keras_archive(tmp_path):
    path = tmp_path / "fake.keras"
    path.write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="not a .keras model archive"):
        load_model(path)
