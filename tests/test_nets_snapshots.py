"""Tests of the checkpoint ensemble and of the callback that collects its snapshots."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipelines.models import load_model
from pipelines.nets.rnn import make_text_rnn
from pipelines.nets.snapshots import snapshot_ensemble
from pipelines.training import WeightSnapshots


def _ids(n: int = 6, length: int = 7, seed: int = 0) -> np.ndarray:
    ids = np.random.default_rng(seed).integers(1, 50, (n, length))
    ids[0, 4:] = 0  # a padded text: the members' masks must still apply
    return ids


def test_ensemble_output_is_the_mean_of_the_members_logits_and_survives_saving(tmp_path):
    net = make_text_rnn(50, embed_dim=8, units=(4,))
    first = net.get_weights()
    second = [w + np.random.default_rng(1).normal(0, 0.1, w.shape).astype(w.dtype) for w in first]
    ids = _ids()
    expected = []
    for weights in (first, second):
        net.set_weights(weights)
        expected.append(net.predict(ids, verbose=0))
    ensemble = snapshot_ensemble(net, [first, second])
    got = ensemble.predict(ids, verbose=0)
    np.testing.assert_allclose(got, (expected[0] + expected[1]) / 2, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected[0], expected[1])
    assert ensemble.count_params() == 2 * net.count_params()
    ensemble.save(tmp_path / "e.keras")
    np.testing.assert_allclose(load_model(tmp_path / "e.keras").predict(ids, verbose=0), got, rtol=1e-5, atol=1e-6)


def test_ensemble_refuses_no_snapshot_and_foreign_weights():
    net = make_text_rnn(50, embed_dim=8, units=(4,))
    with pytest.raises(ValueError, match="at least one"):
        snapshot_ensemble(net, [])
    with pytest.raises(ValueError, match="snapshot 1 does not fit"):
        snapshot_ensemble(net, [net.get_weights(), make_text_rnn(60, embed_dim=8, units=(4,)).get_weights()])


def test_weight_snapshots_keep_each_epochs_weights():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    callback = WeightSnapshots()
    x, y = np.random.default_rng(0).normal(size=(32, 3)), np.ones((32, 1))
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    assert len(callback.snapshots) == 3
    assert not np.allclose(callback.snapshots[0][0], callback.snapshots[1][0])
    for now, final in zip(callback.snapshots[-1], model.get_weights()):
        np.testing.assert_array_equal(now, final)
    # Copies, not views of the live variables.
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(callback.snapshots[-1][0], model.get_weights()[0])
