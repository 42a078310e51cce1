"""Tests of pipelines.training: the learning-rate schedule and the NaN guard."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.config import TrainConfig
from pipelines.errors import TrainingDivergedError
from pipelines.training import fit, fit_options, jit_compile_for, make_optimizer, schedule_of, steps_per_execution_for


def test_warmup_then_cosine_to_zero():
    config = TrainConfig(epochs=4, learning_rate=0.01, warmup_epochs=1.0)
    opt = make_optimizer(**schedule_of(config), steps_per_epoch=10)
    lr = opt.learning_rate  # reading evaluates the schedule at the current iteration
    schedule = opt._learning_rate
    assert float(schedule(0)) == pytest.approx(0.0001)
    assert float(schedule(10)) == pytest.approx(0.01)  # warm-up end: the peak
    assert float(schedule(25)) == pytest.approx(0.005, rel=1e-4)  # half-way through the decay
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-8)  # last planned step
    assert float(lr) == pytest.approx(0.0001)


def test_non_finite_loss_raises_a_clear_error(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    config = TrainConfig(epochs=5, learning_rate=1e12, verbose=0, early_stopping_patience=0)
    model.compile(optimizer=keras.optimizers.SGD(config.learning_rate), loss="mse")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(TrainingDivergedError, match=r"non-finite.*Lower learning_rate \(now 1000000000000.0\)"):
        fit(model, ds, ds, tmp_path, **fit_options(config))


@pytest.mark.parametrize("replicas,expected", [(1, (16, True)), (2, (1, False))])
def test_several_replicas_compile_one_step_per_call_without_xla(replicas, expected):
    # Keras 3.15 fails on both under MirroredStrategy (keras-team/keras#19246, #19005); one device keeps them.
    strategy = type("Strategy", (), {"num_replicas_in_sync": replicas})()
    assert (steps_per_execution_for(strategy, 16), jit_compile_for(strategy, True)) == expected
    assert jit_compile_for(strategy, False) is False


def test_epoch_counter_counts_the_epochs_before_a_resume(tmp_path):
    from pipelines.training import EpochCounter

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):  # after the backup of the epoch before is written
            if epoch == 2:
                raise KeyboardInterrupt("planted Ctrl-C")

    x, y = np.random.default_rng(0).normal(size=(32, 3)), np.ones((32, 1))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)

    def model():
        net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        net.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        return net

    config = TrainConfig(epochs=3, early_stopping_patience=0, verbose=0)
    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        fit(model(), ds, ds, tmp_path, **fit_options(config), extra_callbacks=[EpochCounter(), Kill()])
    counter = EpochCounter()
    history = fit(model(), ds, ds, tmp_path, **fit_options(config), extra_callbacks=[counter])
    # The resumed run trained only the third epoch, and the counter still says 3.
    assert len(history["loss"]) == 1 and counter.epochs == 3


def test_a_compiled_call_never_spans_more_than_an_epoch():
    # make demo on digits: 11 steps per epoch at steps_per_execution=16 showed a 16/11 progress bar.
    from pipelines.training import compile_scope

    strategy = tf.distribute.get_strategy()
    with compile_scope(strategy, jit_compile=False, steps_per_execution=16, steps_per_epoch=11) as options:
        pass
    assert options["steps_per_execution"] == 11
    with compile_scope(strategy, jit_compile=False, steps_per_execution=16, steps_per_epoch=200) as options:
        pass
    assert options["steps_per_execution"] == 16
