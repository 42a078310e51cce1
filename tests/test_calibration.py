"""Temperature scaling (`calibrate="temperature"`): the fitted temperature, the saved model, the report."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import pipelines
from pipelines.calibration import TemperatureScaling, fit_temperature, temperature_of, with_temperature
from pipelines.errors import ConfigError


def _honest_logits(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # Labels drawn from softmax(logits): these logits are calibrated at T = 1 by construction.
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in p])
    return logits, y


@pytest.mark.parametrize("scale", [0.25, 1.0, 3.0])
def test_the_fitted_temperature_undoes_a_known_scaling(scale):
    logits, y = _honest_logits(4000, 4, seed=1)
    assert fit_temperature(scale * logits, y) == pytest.approx(scale, rel=0.1)


def test_binary_logits_take_a_temperature_too():
    rng = np.random.default_rng(2)
    z = rng.normal(scale=2.0, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)
    assert fit_temperature(5 * z[:, None], y) == pytest.approx(5, rel=0.1)
    with pytest.raises(ValueError, match="one logit row per label"):
        fit_temperature(z[:10], y[:9])


def test_the_scaled_model_keeps_its_predictions_and_survives_a_save(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4)(inputs))
    scaled = with_temperature(model, 2.5)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    np.testing.assert_allclose(scaled.predict(x, verbose=0), model.predict(x, verbose=0) / 2.5, rtol=1e-6)
    scaled.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert temperature_of(loaded) == 2.5 and temperature_of(model) is None
    np.testing.assert_allclose(loaded.predict(x, verbose=0), scaled.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="positive finite temperature"):
        TemperatureScaling(0.0)


@pytest.mark.slow
def test_a_calibrated_run_reports_before_and_after_and_saves_the_scaled_model(tmp_path):
    result = pipelines.run(
        "mnist", dataset="digits", epochs=3, batch_size=64, verbose=0, calibrate="temperature", out=str(tmp_path)
    )
    m = result.metrics
    # Measured on digits after 5 epochs with label smoothing 0.1: ece 0.139 -> 0.029, log loss 0.255 -> 0.198.
    assert m["ece"] < m["ece_uncalibrated"] and m["log_loss"] < m["log_loss_uncalibrated"]
    saved = keras.saving.load_model(tmp_path / "model.keras")
    assert temperature_of(saved) == pytest.approx(m["temperature"])
    # `evaluate` on the saved model gives the same calibrated numbers.
    again = pipelines.evaluate("mnist", tmp_path / "model.keras", dataset="digits", out=str(tmp_path / "eval"))
    assert again.metrics["ece"] == pytest.approx(m["ece"]) and again.metrics["temperature"] == m["temperature"]


def test_calibrate_takes_only_the_known_methods(tmp_path):
    with pytest.raises(ConfigError, match="calibrate must be one of 'none', 'temperature'"):
        pipelines.run("vit", calibrate="isotonic", out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_fine_tuning_from_a_calibrated_text_model_starts_from_its_logit(tmp_path):
    from pipelines.inputs.text_dataset import make_vectorizer
    from pipelines.nets.rnn import make_text_rnn
    from pipelines.recipes.text_classifier import load_pretrained, make_end_to_end

    vectorizer = make_vectorizer(np.array(["a good film", "a bad film"]), max_tokens=20, sequence_length=8)
    net = make_text_rnn(vectorizer.vocabulary_size(), embed_dim=8, units=(4,))
    make_end_to_end(vectorizer, with_temperature(net, 3.0)).save(tmp_path / "model.keras")
    config = pipelines.get_config("sentiment", init_from=str(tmp_path / "model.keras"))
    _, pretrained = load_pretrained(config)
    assert temperature_of(pretrained) is None
    ids = vectorizer(np.array(["a good film"]))
    np.testing.assert_allclose(pretrained.predict(ids, verbose=0), net.predict(ids, verbose=0), rtol=1e-5)
