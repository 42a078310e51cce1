"""Tests of pipelines.models: untrusted files are refused with a clear error."""

from __future__ import annotations

import sys

import keras
import pytest
import tensorflow as tf

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


def test_a_fresh_process_loads_a_raw_string_sentiment_model(tmp_path, python_env):
    import subprocess

    from pipelines.inputs.text_dataset import make_vectorizer
    from pipelines.nets.rnn import make_text_rnn
    from pipelines.recipes.text_classifier import make_end_to_end

    vectorizer = make_vectorizer(["a good film", "a bad film"], max_tokens=10, sequence_length=5)
    model = make_end_to_end(vectorizer, make_text_rnn(vectorizer.vocabulary_size(), embed_dim=4, units=(2,)))
    model.save(tmp_path / "m.keras")
    expected = float(model.predict(tf.constant([["a good film"]]), verbose=0)[0, 0])
    # Only pipelines.models is imported: it must register the custom standardizer and layers itself.
    script = (
        "import tensorflow as tf; from pipelines.models import load_model; "
        f"m = load_model({str(tmp_path / 'm.keras')!r}); "
        "print(float(m.predict(tf.constant([['a good film']]), verbose=0)[0, 0]))"
    )
    done = subprocess.run([sys.executable, "-c", script], env=python_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) == pytest.approx(expected, rel=1e-5)


def test_every_module_that_registers_keras_objects_is_imported_before_loading():
    from pathlib import Path

    import pipelines
    from pipelines.models import _serializable_modules

    root = Path(pipelines.__file__).parent
    registering = {
        "pipelines." + ".".join(path.relative_to(root).with_suffix("").parts)
        for path in root.rglob("*.py")
        if "@keras.saving.register_keras_serializable" in path.read_text()
    }
    # cluster_code.py (the DCGAN's cluster layers) was missing from the hand-kept list this replaced.
    assert "pipelines.nets.cluster_code" in registering
    assert registering <= set(_serializable_modules())
