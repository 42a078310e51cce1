"""The supervised training loop every `fit()`-based pipeline shares.

Optimizer with a warm-up + cosine learning-rate schedule, and the standard callbacks:
early stopping on validation, a best-model checkpoint, `BackupAndRestore` in the run
directory (so a killed run resumes), optional TensorBoard, and a stop on NaN loss.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras

from pipelines.config import TrainConfig
from pipelines.errors import TrainingDivergedError

# Substrings of variable names that AdamW does not decay.
NO_WEIGHT_DECAY = ("bias", "gamma", "beta", "token", "embedding")

__all__ = ["make_optimizer", "make_callbacks", "fit", "EpochTimer", "steps_per_execution_for"]


def steps_per_execution_for(strategy: Any, requested: int) -> int:
    """The `steps_per_execution` to compile with under `strategy`.

    Keras 3.15's multi-step train loop fails under MirroredStrategy ("You must feed a
    value for placeholder tensor ... while/cond"), so several replicas run one step per
    call; a single device keeps the requested value.
    """
    return requested if strategy.num_replicas_in_sync == 1 else 1


def make_optimizer(config: TrainConfig, steps_per_epoch: int, **kwargs: Any) -> keras.optimizers.Optimizer:
    """Adam (or AdamW when `weight_decay > 0`) on a warm-up + cosine schedule.

    The schedule spans `epochs * steps_per_epoch` steps, so it decays to zero exactly at
    the last planned step; early stopping may end the run sooner.

    Args:
        config: The training config (learning_rate, weight_decay, warmup_epochs, epochs).
        steps_per_epoch: Optimizer steps in one epoch.
        **kwargs: Passed to the optimizer (e.g. `clipnorm`, `beta_1`).
    """
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(total - 1, int(round(config.warmup_epochs * steps_per_epoch)))
    if warmup > 0:
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / 100,
            decay_steps=total - warmup,
            warmup_target=config.learning_rate,
            warmup_steps=warmup,
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total)
    if config.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay, **kwargs)
        # Decay shrinks weights toward zero; for biases, norm scales/shifts, class tokens and
        # position tables zero is not a simpler solution, so they are left alone (as in BERT, DeiT).
        optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
        return optimizer
    return keras.optimizers.Adam(learning_rate=schedule, **kwargs)


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs as `epoch_seconds`."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def make_callbacks(
    config: TrainConfig,
    run_dir: Path,
    *,
    monitor: str = "val_loss",
    mode: str = "min",
) -> list[keras.callbacks.Callback]:
    """The standard callbacks, writing into `run_dir`.

    Args:
        config: Uses `early_stopping_patience` and `tensorboard`.
        run_dir: The run directory; `backup/`, `checkpoints/` and `tensorboard/` go there.
        monitor: The validation quantity to watch.
        mode: `min` or `max` for `monitor`.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    callbacks: list[keras.callbacks.Callback] = [
        EpochTimer(),
        keras.callbacks.TerminateOnNaN(),
        # Resumes a killed run from its last finished epoch; deleted after a clean finish.
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=True),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / "checkpoints" / "best.keras"), monitor=monitor, mode=mode, save_best_only=True
        ),
    ]
    if config.early_stopping_patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=config.early_stopping_patience, restore_best_weights=True
            )
        )
    if config.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return callbacks


def fit(
    model: keras.Model,
    train_ds: Any,
    val_ds: Any,
    config: TrainConfig,
    run_dir: Path,
    *,
    monitor: str = "val_loss",
    mode: str = "min",
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, list[float]]:
    """Trains `model` with the standard callbacks and returns the per-epoch history.

    Raises:
        TrainingDivergedError: The loss became NaN or infinite.
    """
    callbacks = make_callbacks(config, run_dir, monitor=monitor, mode=mode) + list(extra_callbacks or [])
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, verbose=config.verbose,
        shuffle=False,  # tf.data already shuffles, seeded
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    losses = logs.get("loss", [])
    if any(not math.isfinite(v) for v in losses) or len(losses) < len(logs.get("epoch_seconds", losses)):
        raise TrainingDivergedError(
            f"training loss became non-finite at epoch {len(losses)} (loss={losses[-1] if losses else 'nan'}). "
            f"Lower learning_rate (now {config.learning_rate}); the best checkpoint so far is in "
            f"{Path(run_dir) / 'checkpoints'}."
        )
    return logs
