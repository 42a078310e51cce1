"""Tests of pipelines.nets.cnn."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipelines.devices import precision_policy
from pipelines.models import load_model
from pipelines.nets.cnn import make_cnn


def test_output_is_one_logit_per_class():
    model = make_cnn((28, 28, 1), 10)
    assert model.output_shape == (None, 10)
    assert model.layers[-1].get_config()["activation"] == "linear"


def test_feature_map_sizes_of_the_default_valid_stack():
    model = make_cnn((28, 28, 1), 10)
    shapes = {layer.name: layer.output.shape[1] for layer in model.layers if "pool" in layer.name}
    assert shapes == {"stem_pool": 12, "pool0": 4}


def test_logits_stay_float32_under_bfloat16():
    with precision_policy("mixed_bfloat16"):
        model = make_cnn((28, 28, 1), 3, stem_filters=4, filters=(8,), dense_units=8)
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model(np.zeros((2, 28, 28, 1), "float32")).dtype == "float32"


@pytest.mark.parametrize("kwargs", [{"filters": (8,), "convs": (1, 2)}, {"convs": (0,)}, {"stem_filters": 0}])
def test_bad_stage_spec(kwargs):
    with pytest.raises(ValueError, match="one positive entry per stage"):
        make_cnn((28, 28, 1), 10, **kwargs)


def test_save_and_reload_with_safe_mode(tmp_path):
    model = make_cnn((28, 28, 1), 10, stem_filters=4, filters=(8,), dense_units=16)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype="float32")
    model.fit(x, np.arange(16) % 10, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), again.predict(x, verbose=0))
