"""The gradient norm in the training history (`grad_norm`, `grad_norm_max`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.gradient_norms import GradientNorms
from pipelines.optimizers import make_optimizer


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]]) + 5.0).astype("float32")


def _model(**optimizer: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=make_optimizer(0.01, epochs=3, steps_per_epoch=1, optimizer="sgd", **optimizer), loss="mse")
    return model


def _norm_by_tape(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    with tf.GradientTape() as tape:
        loss = keras.losses.mean_squared_error(y, model(x, training=True))
        loss = tf.reduce_mean(loss)
    grads = tape.gradient(loss, model.trainable_variables)
    return float(tf.linalg.global_norm(grads))


def test_one_step_per_epoch_logs_that_steps_global_norm():
    x, y = _data()
    model = _model()
    expected = _norm_by_tape(model, x, y)  # at the weights the first step starts from
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=[GradientNorms()])
    norms, peaks = history.history["grad_norm"], history.history["grad_norm_max"]
    assert norms[0] == pytest.approx(expected, rel=1e-5) and norms == pytest.approx(peaks)


def test_mean_and_max_over_the_steps_of_an_epoch():
    x, y = _data()
    history = _model().fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=[GradientNorms()])
    assert 0 < history.history["grad_norm"][0] < history.history["grad_norm_max"][0]


def test_the_norm_is_taken_before_clipping_and_the_optimizer_is_left_plain(tmp_path):
    x, y = _data()
    plain, clipped = _model(), _model(clipvalue=1e-3)
    runs = [m.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[GradientNorms()]) for m in (plain, clipped)]
    assert runs[1].history["grad_norm"] == pytest.approx(runs[0].history["grad_norm"], rel=1e-5)
    assert runs[1].history["grad_norm"][0] > 1  # far above what the clipped steps applied
    assert "apply" not in vars(clipped.optimizer)  # the measurement is gone once training ends
    clipped.save(tmp_path / "m.keras")
    assert type(keras.saving.load_model(tmp_path / "m.keras").optimizer) is keras.optimizers.SGD
