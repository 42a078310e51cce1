"""The optimizer and learning-rate schedule of a training run, chosen by config.

`optimizer` is `adam`, `adamw`, `sgd` (momentum, Nesterov) or `rmsprop`; `schedule` is
`constant`, `cosine`, `step`, `exponential` or `one_cycle`, each after an optional linear
warm-up. Weight decay is decoupled (Loshchilov & Hutter) in every Keras 3 optimizer and
leaves biases, normalization parameters, class tokens, position tables and embeddings
alone. Gradients can be clipped by norm (per variable, as Keras's `clipnorm`) or value.

Example:
    >>> type(make_optimizer(0.1, epochs=4, steps_per_epoch=10, optimizer="sgd", nesterov=True)).__name__
    'SGD'
    >>> schedule = make_schedule(0.1, total_steps=40, schedule="step")
    >>> [round(float(schedule(step)), 4) for step in (0, 20, 21, 31)]  # /10 after 50 % and 75 % of the steps
    [0.1, 0.1, 0.01, 0.001]
"""

from __future__ import annotations

from typing import Any

import keras

from pipelines.config import OPTIMIZERS, SCHEDULES, OptimizerSettings
from pipelines.errors import ConfigError

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "NO_WEIGHT_DECAY",
    "WarmupSchedule",
    "make_schedule",
    "make_optimizer",
    "schedule_of",
]

# Substrings of variable names that weight decay leaves alone.
NO_WEIGHT_DECAY = ("bias", "gamma", "beta", "token", "embedding")

# `step` divides the rate by 10 at these fractions of the steps after warm-up (He et al.'s
# ResNet recipe, relative to the run's length); `exponential` ends at this share of the peak.
STEP_AT = (0.5, 0.75)
EXPONENTIAL_END = 0.01
# `one_cycle` (Smith & Topin): up from peak/25 over 30 % of the steps (or the warm-up, if
# one is set), then cosine down to peak/25/1e4, fastai's defaults.
ONE_CYCLE_START, ONE_CYCLE_RISE, ONE_CYCLE_END = 1 / 25, 0.3, 1e-4 / 25


@keras.saving.register_keras_serializable(package="pipelines")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A linear warm-up from `peak / 100` to `peak` over `warmup_steps`, then `after`
    (counted from the warm-up's end), or `peak` held when `after` is `None`.

    Example:
        >>> schedule = WarmupSchedule(1.0, 10)
        >>> [round(float(schedule(s)), 3) for s in (0, 5, 10, 99)]
        [0.01, 0.505, 1.0, 1.0]
    """

    def __init__(
        self, peak: float, warmup_steps: int, after: keras.optimizers.schedules.LearningRateSchedule | None = None
    ) -> None:
        super().__init__()
        self.peak = float(peak)
        self.warmup_steps = int(warmup_steps)
        self.after = after

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        peak = keras.ops.cast(self.peak, "float32")
        if self.warmup_steps > 0:
            start = peak / 100
            ramp = start + (peak - start) * step / self.warmup_steps
        else:
            ramp = peak
        if self.after is None:
            later = peak
        else:
            later = keras.ops.cast(self.after(keras.ops.maximum(step - self.warmup_steps, 0)), "float32")
        return keras.ops.where(step < self.warmup_steps, ramp, later)

    def get_config(self) -> dict[str, Any]:
        after = None if self.after is None else keras.optimizers.schedules.serialize(self.after)
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "after": after}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WarmupSchedule:
        config = dict(config)
        if config.get("after") is not None:
            config["after"] = keras.optimizers.schedules.deserialize(config["after"])
        return cls(**config)


def make_schedule(
    learning_rate: float, *, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine"
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate over `total_steps` optimizer steps: a float when it never changes.

    Args:
        learning_rate: The peak learning rate, reached after the warm-up.
        total_steps: The planned optimizer steps; the decays end exactly there.
        warmup_steps: Linear warm-up from `learning_rate / 100` (at most `total_steps - 1`).
        schedule: One of `SCHEDULES` (see `OptimizerSettings.schedule`).
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}. Received: schedule={schedule!r}")
    total = max(1, int(total_steps))
    warmup = max(0, min(total - 1, int(warmup_steps)))
    decay = total - warmup
    if schedule == "cosine":
        if warmup == 0:
            return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total)
        return keras.optimizers.schedules.CosineDecay(
            learning_rate / 100, decay_steps=decay, warmup_target=learning_rate, warmup_steps=warmup
        )
    if schedule == "one_cycle":
        rise = warmup or min(total - 1, round(ONE_CYCLE_RISE * total))
        if rise == 0:
            return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total, alpha=ONE_CYCLE_END)
        return keras.optimizers.schedules.CosineDecay(
            learning_rate * ONE_CYCLE_START,
            decay_steps=total - rise,
            warmup_target=learning_rate,
            warmup_steps=rise,
            alpha=ONE_CYCLE_END,  # of the peak, where the cosine starts
        )
    after: keras.optimizers.schedules.LearningRateSchedule | None = None
    if schedule == "step":
        boundaries = sorted({max(1, round(f * decay)) for f in STEP_AT})
        values = [learning_rate / 10**k for k in range(len(boundaries) + 1)]
        after = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    elif schedule == "exponential":
        after = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=decay, decay_rate=EXPONENTIAL_END
        )
    if warmup == 0:
        return learning_rate if after is None else after
    return WarmupSchedule(learning_rate, warmup, after)


def make_optimizer(
    learning_rate: float,
    *,
    epochs: int,
    steps_per_epoch: int,
    optimizer: str = "adam",
    schedule: str = "cosine",
    warmup_epochs: float = 0.0,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
    clipnorm: float = 0.0,
    clipvalue: float = 0.0,
    **kwargs: Any,
) -> keras.optimizers.Optimizer:
    """The optimizer of a run, on its learning-rate schedule (see `OptimizerSettings`).

    Adam with weight decay is built as Keras's `AdamW` (the same decoupled update), so a
    saved model names its optimizer the way its config does.

    Args:
        learning_rate: The peak learning rate, reached after the warm-up.
        epochs: The planned epochs; the schedule spans `epochs * steps_per_epoch` steps, so
            it ends exactly at the last planned step (early stopping may end the run sooner).
        steps_per_epoch: Optimizer steps in one epoch.
        warmup_epochs: Linear warm-up from `learning_rate / 100`, in epochs. Defaults to 0.
        weight_decay: Decoupled weight decay; 0 means none. Defaults to 0.
        clipnorm, clipvalue: Gradient clipping; 0 disables. Defaults to 0.
        **kwargs: Passed to the optimizer (e.g. `beta_1`).

    Example:
        >>> optimizer = make_optimizer(1e-3, epochs=2, steps_per_epoch=10, warmup_epochs=0.5)
        >>> type(optimizer).__name__, round(float(optimizer.learning_rate), 6)  # step 0: the warm-up's start
        ('Adam', 1e-05)
    """
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}. Received: optimizer={optimizer!r}")
    rate = make_schedule(
        learning_rate,
        total_steps=epochs * steps_per_epoch,
        warmup_steps=round(warmup_epochs * steps_per_epoch),
        schedule=schedule,
    )
    options: dict[str, Any] = {"learning_rate": rate, **kwargs}
    if clipnorm > 0:
        options["clipnorm"] = clipnorm
    if clipvalue > 0:
        options["clipvalue"] = clipvalue
    if weight_decay > 0:
        options["weight_decay"] = weight_decay
    if optimizer == "sgd":
        built: keras.optimizers.Optimizer = keras.optimizers.SGD(momentum=momentum, nesterov=nesterov, **options)
    elif optimizer == "rmsprop":
        built = keras.optimizers.RMSprop(momentum=momentum, **options)
    elif weight_decay > 0:
        built = keras.optimizers.AdamW(**options)
    else:
        built = keras.optimizers.Adam(**options)
    if weight_decay > 0:
        # Decay shrinks weights toward zero; for biases, norm scales/shifts, class tokens and
        # position tables zero is not a simpler solution, so they are left alone (as in BERT, DeiT).
        built.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return built


def schedule_of(config: Any) -> dict[str, Any]:
    """A training config's optimizer and schedule, as `make_optimizer`'s keyword arguments
    (override any of them)."""
    options = {
        "learning_rate": config.learning_rate,
        "epochs": config.epochs,
        "warmup_epochs": config.warmup_epochs,
        "weight_decay": config.weight_decay,
    }
    if isinstance(config, OptimizerSettings):
        options.update(
            optimizer=config.optimizer,
            schedule=config.schedule,
            momentum=config.momentum,
            nesterov=config.nesterov,
            clipnorm=config.clipnorm,
            clipvalue=config.clipvalue,
        )
    return options
