"""Tests of pipelines.budget: the time-annealed learning rate and the stop at the budget."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from pipelines.budget import TimeBudget, make_budgeted_optimizer
from pipelines.config import TrainConfig
from pipelines.training import schedule_of


def test_learning_rate_warms_up_then_decays_by_whichever_runs_out_first():
    budget = TimeBudget(100.0, learning_rate=1.0, warmup_steps=10, total_steps=1000)
    assert budget.learning_rate_at(0, 0.0) == pytest.approx(0.01)
    assert budget.learning_rate_at(5, 0.0) == pytest.approx(0.01 + 0.99 * 0.5)
    assert budget.learning_rate_at(10, 50.0) == pytest.approx(0.5)  # half the time: cosine midpoint
    assert budget.learning_rate_at(500, 1.0) == pytest.approx(0.5)  # half the steps, little time
    assert budget.learning_rate_at(250, 25.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert budget.learning_rate_at(10, 500.0) == 0.0


def test_a_stop_only_budget_has_no_learning_rate():
    with pytest.raises(RuntimeError, match="only stops training"):
        TimeBudget(1.0).learning_rate_at(0, 0.0)
    with pytest.raises(ValueError, match="positive budget"):
        TimeBudget(0.0)


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    return model, np.random.default_rng(0).random((64, 4), dtype="float32"), np.zeros((64, 1), "float32")


def test_budget_stops_fit_after_the_first_call_past_it():
    model, x, y = _tiny_model()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=50, batch_size=8, verbose=0, callbacks=[TimeBudget(1e-9)])
    assert len(history.history["loss"]) == 1
    assert int(model.optimizer.iterations.numpy()) == 1


def test_budget_anneals_the_optimizer_learning_rate():
    model, x, y = _tiny_model()
    optimizer, callbacks = make_budgeted_optimizer(0.1, epochs=2, steps_per_epoch=8, seconds=3600.0)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks)
    # Set before the last of 16 steps: progress 15/16 by steps, the time fraction is negligible.
    expected = 0.1 * 0.5 * (1 + math.cos(math.pi * 15 / 16))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(expected, rel=1e-3)


def test_make_budgeted_optimizer():
    config = TrainConfig(learning_rate=0.01)
    optimizer, callbacks = make_budgeted_optimizer(**schedule_of(config), steps_per_epoch=10, seconds=None)
    assert callbacks == []
    assert isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule)
    optimizer, callbacks = make_budgeted_optimizer(**schedule_of(config), steps_per_epoch=10, seconds=5.0)
    assert isinstance(callbacks[0], TimeBudget) and callbacks[0].total_steps == config.epochs * 10
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    optimizer, _ = make_budgeted_optimizer(0.01, epochs=2, steps_per_epoch=10, seconds=5.0, weight_decay=1e-4)
    assert type(optimizer).__name__ == "AdamW"
