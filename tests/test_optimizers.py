"""The optimizer and learning-rate schedule chosen by config (`optimizer`, `schedule`, clipping)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from two_replica_runs import PIPELINE_RUNS

import pipelines
from pipelines.errors import ConfigError
from pipelines.optimizers import WarmupSchedule, make_optimizer, make_schedule


@pytest.mark.parametrize(
    "name, weight_decay, expected",
    [
        ("adam", 0.0, keras.optimizers.Adam),
        ("adam", 0.1, keras.optimizers.AdamW),
        ("adamw", 0.1, keras.optimizers.AdamW),
        ("sgd", 0.0, keras.optimizers.SGD),
        ("rmsprop", 0.1, keras.optimizers.RMSprop),
    ],
)
def test_each_optimizer_name_builds_its_keras_optimizer(name, weight_decay, expected):
    optimizer = make_optimizer(1e-2, epochs=2, steps_per_epoch=5, optimizer=name, weight_decay=weight_decay)
    assert type(optimizer) is expected
    assert (optimizer.weight_decay or 0.0) == pytest.approx(weight_decay)


def test_sgd_takes_momentum_and_nesterov_and_clipping():
    optimizer = make_optimizer(
        0.1, epochs=1, steps_per_epoch=1, optimizer="sgd", momentum=0.8, nesterov=True, clipnorm=2
    )
    assert (optimizer.momentum, optimizer.nesterov, optimizer.clipnorm, optimizer.clipvalue) == (0.8, True, 2.0, None)
    plain = make_optimizer(0.1, epochs=1, steps_per_epoch=1)
    assert plain.clipnorm is None and plain.clipvalue is None


def test_clipvalue_bounds_each_gradient_entry():
    variable = keras.Variable(np.zeros(3, "float32"))
    optimizer = make_optimizer(1.0, epochs=1, steps_per_epoch=1, optimizer="sgd", momentum=0.0, clipvalue=0.5)
    optimizer.apply_gradients([(keras.ops.convert_to_tensor([3.0, -0.2, -7.0]), variable)])
    assert variable.numpy() == pytest.approx([-0.5, 0.2, 0.5])


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_weight_decay_leaves_biases_and_norms_alone_in_every_optimizer(name):
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(2)
    model = keras.Model(inputs, dense(keras.layers.LayerNormalization()(inputs)))
    optimizer = make_optimizer(0.5, epochs=10, steps_per_epoch=5, optimizer=name, weight_decay=0.5)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    # A zero gradient isolates the decay: only decayed variables move.
    optimizer.apply_gradients([(keras.ops.zeros_like(v), v) for v in model.trainable_variables])
    moved = {v.path for v in model.trainable_variables if not np.allclose(v.numpy(), before[v.path])}
    assert moved == {dense.kernel.path}


def _rates(schedule, steps):
    return [float(schedule(step)) if callable(schedule) else float(schedule) for step in steps]


def test_the_schedules_over_a_hundred_steps():
    steps = (0, 10, 30, 50, 51, 75, 76, 99, 100)
    assert make_schedule(1.0, total_steps=100, schedule="constant") == 1.0  # a float: nothing to evaluate
    cosine = _rates(make_schedule(1.0, total_steps=100, schedule="cosine"), steps)
    assert cosine[0] == 1.0 and cosine[3] == pytest.approx(0.5) and cosine[-1] == pytest.approx(0.0, abs=1e-7)
    step = _rates(make_schedule(1.0, total_steps=100, schedule="step"), steps)
    assert step == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01, 0.01])
    exponential = _rates(make_schedule(1.0, total_steps=100, schedule="exponential"), steps)
    assert exponential[0] == 1.0 and exponential[3] == pytest.approx(0.1) and exponential[-1] == pytest.approx(0.01)
    cycle = _rates(make_schedule(1.0, total_steps=100, schedule="one_cycle"), steps)
    assert cycle[0] == pytest.approx(1 / 25) and max(cycle) == cycle[2] == pytest.approx(1.0)  # the peak at 30 %
    assert cycle[-1] == pytest.approx(1e-4 / 25, rel=1e-3)


@pytest.mark.parametrize("name", ["constant", "step", "exponential", "cosine"])
def test_every_schedule_warms_up_from_a_hundredth_of_the_peak(name):
    schedule = make_schedule(2.0, total_steps=100, warmup_steps=20, schedule=name)
    rates = _rates(schedule, (0, 10, 20))
    assert rates == pytest.approx([0.02, 1.01, 2.0])
    if name == "step":  # the drops count from the warm-up's end: /10 after 40 of the 80 steps left
        assert _rates(schedule, (60, 61)) == pytest.approx([2.0, 0.2])


def test_one_cycle_rises_over_the_warm_up_when_one_is_set():
    rates = _rates(make_schedule(1.0, total_steps=100, warmup_steps=10, schedule="one_cycle"), (0, 10, 30))
    assert rates[0] == pytest.approx(1 / 25) and rates[1] == pytest.approx(1.0) and rates[2] < 1.0


def test_the_warm_up_schedule_survives_a_save_and_a_load(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    optimizer = make_optimizer(0.3, epochs=4, steps_per_epoch=5, optimizer="sgd", schedule="step", warmup_epochs=1)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, WarmupSchedule)
    assert _rates(schedule, (0, 5, 16)) == pytest.approx(_rates(optimizer._learning_rate, (0, 5, 16)))


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("mnist", {"optimizer": "adagrad"}, "optimizer must be one of 'adam', 'adamw', 'sgd', 'rmsprop'"),
        ("mnist", {"optimizer": "adamw"}, r"optimizer='adamw' needs weight_decay > 0"),
        ("vit", {"nesterov": True}, r"nesterov applies to optimizer='sgd'"),
        ("sentiment", {"schedule": "linear"}, "schedule must be one of 'constant', 'cosine'"),
        ("sentiment", {"clipvalue": 0.5}, r"clip gradients by norm or by value, not both.*clipnorm=1.0"),
        ("advertising", {"momentum": 1.0}, "momentum must be < 1"),
        ("denoising_autoencoder", {"clipvalue": -1.0}, "clipvalue must be >= 0"),
        ("denoising_autoencoder", {"time_budget_seconds": 9.0, "schedule": "step"}, "anneals the learning rate by cos"),
    ],
)
def test_bad_optimizer_settings_are_refused_before_any_work(name, overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        pipelines.run(name, out=str(tmp_path / "r"), **overrides)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_pipeline_trains_and_saves_with_the_optimizer_it_was_given(tmp_path):
    result = pipelines.run(
        "mnist",
        dataset="digits",
        epochs=2,
        batch_size=64,
        verbose=0,
        optimizer="sgd",
        nesterov=True,
        learning_rate=0.05,
        schedule="one_cycle",
        clipnorm=1.0,
        out=str(tmp_path / "sgd"),
    )
    model = keras.saving.load_model(tmp_path / "sgd" / "model.keras")
    assert type(model.optimizer) is keras.optimizers.SGD and model.optimizer.nesterov
    assert result.report["config"]["schedule"] == "one_cycle"
    assert "overfit_memorized" not in result.metrics  # no sanity verdict outside the sanity mode
    assert len(result.history["grad_norm"]) == 2 and min(result.history["grad_norm"]) > 0
    assert result.metrics["accuracy"] > 0.5  # 10 classes; two SGD epochs on 1,400 digits learn


@pytest.mark.realdata
def test_advertising_takes_the_optimizer_settings_too(tmp_path, real_data_dir):
    settings = {**PIPELINE_RUNS["advertising"], "features": ("TV", "radio"), "target": "sales", "verbose": 0}
    result = pipelines.run(
        "advertising",
        data_dir=str(real_data_dir),
        optimizer="rmsprop",
        schedule="exponential",
        out=str(tmp_path),
        **settings,
    )
    assert result.report["config"]["optimizer"] == "rmsprop"
    # Measured: R2 0.986 (0.953 with the default adam at these short settings), linear model 0.882.
    assert result.metrics["cv_r2_mean"] > 0.95 and result.metrics["linear_cv_r2_mean"] > 0.85
