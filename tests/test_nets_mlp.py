"""Tests of pipelines.nets.mlp: stacked members, their isolation, and extraction."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipelines.inputs.splits import fold_train_mask, kfold_ids
from pipelines.inputs.tabular import make_fold_dataset
from pipelines.models import load_model
from pipelines.nets.mlp import StackedDense, extract_member, make_fold_mlp

RNG = np.random.default_rng(0)
X = RNG.random((24, 3)) * [100.0, 10.0, 1.0]
Y = X @ [0.05, 0.2, 1.0] + RNG.normal(0, 0.1, 24)
IDS = kfold_ids(24, 3, seed=0)
MASK = fold_train_mask(IDS)


def _trained(y: np.ndarray, steps: int = 5) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = make_fold_mlp(X, y, MASK, widths=(8,))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.MeanSquaredError(reduction="mean_with_sample_weight")
    )
    model.fit(make_fold_dataset(X, y, MASK).repeat(), steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return model


def test_stacked_dense_members_start_like_dense_layers():
    layer = StackedDense(64)
    layer.build((500, None, 32))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    limit = np.sqrt(6.0 / (32 + 64))  # glorot_uniform of one (32, 64) member
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert not np.allclose(kernel[0], kernel[1])  # members are initialized independently
    assert StackedDense.from_config(StackedDense(5, activation="gelu").get_config()).units == 5
    with pytest.raises(ValueError, match="expected a positive integer. Received: units=0"):
        StackedDense(0)


def test_each_member_is_normalized_on_its_training_rows_only():
    model = make_fold_mlp(X, Y, MASK, widths=(4,))
    for m in range(MASK.shape[1]):
        mean = keras.ops.convert_to_numpy(model.get_layer(f"feature_norm_{m}").mean)[0]
        np.testing.assert_allclose(mean, X[MASK[:, m]].mean(axis=0), rtol=1e-5)
    target = keras.ops.convert_to_numpy(model.get_layer("target_norm").mean).ravel()
    np.testing.assert_allclose(target, [Y[MASK[:, m]].mean() for m in range(4)], rtol=1e-5)


def test_a_member_never_learns_from_its_held_out_rows():
    before = _trained(Y).predict(X, verbose=0)
    spoiled = Y.copy()
    spoiled[IDS == 0] += 1000.0  # only fold 0's held-out targets change
    after = _trained(spoiled).predict(X, verbose=0)
    np.testing.assert_allclose(after[:, 0], before[:, 0], rtol=1e-4, atol=1e-4)  # member 0 is blind to them
    assert not np.allclose(after[:, 1], before[:, 1], atol=1.0)  # member 1 trains on them


def test_extracted_member_predicts_like_the_member_and_reloads_safely(tmp_path):
    model = _trained(Y)
    stacked = model.predict(X, verbose=0)
    for m in (0, 3):
        plain = extract_member(model, m)
        np.testing.assert_allclose(plain.predict(X, verbose=0)[:, 0], stacked[:, m, 0], rtol=1e-4, atol=1e-4)
    plain.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")  # safe_mode, no custom objects
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), plain.predict(X, verbose=0), rtol=1e-6)


def test_linear_members_and_bad_masks():
    linear = make_fold_mlp(X, Y, MASK, widths=())
    assert sum(int(np.prod(w.shape)) for w in linear.trainable_weights) == 4 * 4  # per member: 3 weights + bias
    with pytest.raises(ValueError, match=r"at least one row\. Received empty members \[1\]"):
        make_fold_mlp(X, Y, np.stack([MASK[:, 0], np.zeros(24, bool)], axis=1))
