"""Tests of the recurrent text classifier: masking, pooling, validation, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipelines.errors import ConfigError
from pipelines.models import load_model
from pipelines.nets.rnn import MaskedGlobalMaxPooling1D, make_text_rnn


def test_masked_max_ignores_padded_steps():
    x = np.array([[[-3.0, 1.0], [-2.0, 5.0], [0.0, 9.0]]], "float32")
    mask = np.array([[True, True, False]])
    np.testing.assert_allclose(MaskedGlobalMaxPooling1D()(x, mask=mask), [[-2.0, 5.0]])
    np.testing.assert_allclose(MaskedGlobalMaxPooling1D()(x), [[0.0, 9.0]])


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("pooling", ["max", "mean", "max_mean", "last"])
def test_padding_does_not_change_the_logit(rnn, pooling):
    keras.utils.set_random_seed(0)
    model = make_text_rnn(50, embed_dim=8, rnn=rnn, units=(6, 5), pooling=pooling, dropout=0.1)
    ids = np.array([[5, 9, 2, 7]], "int32")
    padded = np.array([[5, 9, 2, 7, 0, 0, 0]], "int32")
    np.testing.assert_allclose(model(ids), model(padded), rtol=1e-5, atol=1e-6)
    # ...while a real token there does change it.
    assert not np.allclose(model(ids), model(np.array([[5, 9, 2, 7, 3, 3, 3]], "int32")))


def test_stacked_bidirectional_layers_and_float32_logit():
    model = make_text_rnn(100, embed_dim=8, units=(4, 3), dense_units=5)
    names = [layer.name for layer in model.layers]
    assert "bilstm_0" in names and "bilstm_1" in names and "dense" in names
    assert model.get_layer("bilstm_1").output.shape[-1] == 6  # 3 units each way
    assert model.output.dtype == "float32" and model.output_shape == (None, 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rnn="rnn"), r"rnn must be one of \('lstm', 'gru'\)\. Received: rnn='rnn'"),
        (dict(pooling="sum"), r"pooling must be one of .*Received: pooling='sum'"),
        (dict(units=()), r"units needs at least one positive width\. Received: units=\(\)"),
        (dict(units=(0,)), r"units needs at least one positive width\. Received: units=\(0,\)"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        make_text_rnn(100, **kwargs)


def test_save_and_safe_reload_predict_the_same(tmp_path):
    model = make_text_rnn(30, embed_dim=4, units=(3,), pooling="max_mean")
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(
        load_model(tmp_path / "m.keras").predict(ids, verbose=0), model.predict(ids, verbose=0), rtol=1e-6
    )
