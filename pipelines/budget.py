"""Training for a wall-time budget: a callback that stops `fit` and anneals the learning rate.

`make_optimizer` decays the learning rate over a planned number of steps. When a run is
given seconds instead (a benchmark at equal wall time, a quick run on a slow machine),
the steps that fit are unknown in advance, and a step schedule cut short ends at a high
learning rate. `TimeBudget` drives a float learning rate by elapsed time instead, so the
decay ends when the budget does.

Example:
    >>> budget = TimeBudget(60.0, learning_rate=1e-3, warmup_steps=10, total_steps=100)
    >>> budget.learning_rate_at(step=10, elapsed=30.0)
    0.0005
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras

from pipelines.errors import ConfigError
from pipelines.training import make_optimizer

__all__ = ["TimeBudget", "make_budgeted_optimizer"]


class TimeBudget(keras.callbacks.Callback):
    """Stops training at the first compiled call that ends past `seconds` of wall time.

    The clock starts at `on_train_begin`, so it counts graph tracing and every epoch's
    validation, as the wall time of `fit` does. The epoch in progress still runs its
    validation after the stop.

    With `learning_rate`, it also sets the optimizer's learning rate (which must be a
    float, not a schedule) before each compiled call: a linear warm-up from 1 % over
    `warmup_steps`, then a cosine decay to 0 over the progress
    `max(elapsed / seconds, step / total_steps)`, so the decay ends when the budget or the
    planned steps run out, whichever comes first.

    Args:
        seconds: The budget, > 0.
        learning_rate: The peak learning rate; `None` leaves the rate alone. Defaults to `None`.
        warmup_steps: Optimizer steps of linear warm-up. Defaults to `0`.
        total_steps: Planned optimizer steps; `None` anneals by time only. Defaults to `None`.

    Raises:
        ValueError: A non-positive budget or a negative step count.

    Example:
        >>> budget = TimeBudget(60.0, learning_rate=1e-3, warmup_steps=10, total_steps=100)
        >>> budget.learning_rate_at(step=5, elapsed=0.0) < 1e-3, budget.learning_rate_at(step=50, elapsed=60.0)
        (True, 0.0)
    """

    def __init__(
        self,
        seconds: float,
        *,
        learning_rate: float | None = None,
        warmup_steps: int = 0,
        total_steps: int | None = None,
    ) -> None:
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"expected a positive budget. Received: seconds={seconds!r}")
        if warmup_steps < 0 or (total_steps is not None and total_steps < 1):
            raise ValueError(
                "expected warmup_steps >= 0 and total_steps >= 1 (or None). "
                f"Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
            )
        self.seconds = seconds
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self._start = time.perf_counter()

    def learning_rate_at(self, step: int, elapsed: float) -> float:
        """The learning rate after `step` optimizer steps and `elapsed` seconds.

        Raises:
            RuntimeError: The callback was made without a `learning_rate`.
        """
        if self.learning_rate is None:
            raise RuntimeError("this TimeBudget only stops training. Pass learning_rate= to anneal.")
        if step < self.warmup_steps:
            return self.learning_rate * (0.01 + 0.99 * step / self.warmup_steps)
        by_steps = step / self.total_steps if self.total_steps else 0.0
        progress = min(1.0, max(elapsed / self.seconds, by_steps))
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.learning_rate is not None:
            step = int(self.model.optimizer.iterations.numpy())
            self.model.optimizer.learning_rate = self.learning_rate_at(step, time.perf_counter() - self._start)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True


def make_budgeted_optimizer(
    learning_rate: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    seconds: float | None,
    warmup_epochs: float = 0.0,
    schedule: str = "cosine",
    **optimizer: Any,
) -> tuple[keras.optimizers.Optimizer, list[keras.callbacks.Callback]]:
    """The optimizer of a run, and the callbacks its schedule needs.

    Without a budget it is `make_optimizer`'s step schedule and no callback. With one it is
    the same optimizer at a float learning rate, and a `TimeBudget` that warms it up for
    `warmup_epochs`, anneals it by cosine over `seconds` (or `epochs`, if they run out
    first) and stops training.

    Args:
        learning_rate: The peak learning rate.
        epochs: The planned epochs.
        steps_per_epoch: Optimizer steps in one epoch.
        seconds: The wall-time budget of `fit`, or `None`.
        warmup_epochs: Linear warm-up, in epochs. Defaults to 0.
        schedule: `make_optimizer`'s schedule; a budget anneals by cosine only.
        **optimizer: `make_optimizer`'s other arguments (`optimizer`, `weight_decay`, ...).

    Returns:
        `(optimizer, callbacks)`; pass the callbacks to `fit`.

    Raises:
        ConfigError: A budget with a schedule other than cosine.

    Example:
        >>> optimizer, callbacks = make_budgeted_optimizer(1e-3, epochs=10, steps_per_epoch=100, seconds=30.0)
        >>> type(optimizer).__name__, type(callbacks[0]).__name__
        ('Adam', 'TimeBudget')
    """
    if seconds is None:
        built = make_optimizer(
            learning_rate,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            warmup_epochs=warmup_epochs,
            schedule=schedule,
            **optimizer,
        )
        return built, []
    if schedule != "cosine":
        raise ConfigError(
            f"a time budget anneals the learning rate by cosine over the budget. Received: schedule={schedule!r}; "
            "use schedule=cosine, or no time budget"
        )
    budget = TimeBudget(
        seconds,
        learning_rate=learning_rate,
        warmup_steps=round(warmup_epochs * steps_per_epoch),
        total_steps=max(1, epochs * steps_per_epoch),
    )
    # A float rate (the constant schedule without warm-up), which the budget sets each step.
    built = make_optimizer(
        learning_rate, epochs=epochs, steps_per_epoch=steps_per_epoch, schedule="constant", **optimizer
    )
    return built, [budget]
