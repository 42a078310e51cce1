"""The supervised training loop every `fit()`-based pipeline shares.

The optimizer and its schedule (`pipelines.optimizers`, re-exported here), and the standard callbacks:
early stopping on validation, a best-model checkpoint, `BackupAndRestore` in the run
directory (so a killed run resumes), optional TensorBoard, and a stop on NaN loss.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from pipelines.atomic import atomic_path, write_text
from pipelines.config import TrainConfig
from pipelines.errors import TrainingDivergedError
from pipelines.gradient_norms import GradientNorms
from pipelines.optimizers import make_optimizer, schedule_of

__all__ = [
    "make_optimizer",
    "schedule_of",
    "fit_options",
    "make_callbacks",
    "fit",
    "EpochTimer",
    "EpochCounter",
    "WeightSnapshots",
    "AtomicBackupAndRestore",
    "AtomicModelCheckpoint",
    "compile_scope",
    "steps_per_execution_for",
    "jit_compile_for",
    "BEST_CHECKPOINT",
]

# Where `ModelCheckpoint` keeps the best-validation model, relative to the run directory.
BEST_CHECKPOINT = Path("checkpoints") / "best.keras"


def steps_per_execution_for(strategy: Any, requested: int) -> int:
    """The `steps_per_execution` to compile with under `strategy`.

    Keras 3.15's multi-step train loop fails under MirroredStrategy ("You must feed a
    value for placeholder tensor ... while/cond", keras-team/keras#19246), so several
    replicas run one step per call; a single device keeps the requested value. Only the
    speed differs: the steps are the same.
    """
    return requested if strategy.num_replicas_in_sync == 1 else 1


def jit_compile_for(strategy: Any, requested: bool) -> bool:
    """The `jit_compile` to compile with under `strategy`.

    Keras 3 XLA-compiles the whole cross-replica step, `strategy.run` included, as one
    cluster on the first device, which then cannot read the other replicas' variables
    ("Trying to access resource .../replica_1/... located in device ...CPU:1 from device
    ...CPU:0", keras-team/keras#19005); Keras's own `jit_compile="auto"` turns XLA off
    under `tf.distribute` for this reason. So several replicas run without XLA (the
    report's environment records the value used); a single device keeps the request.
    """
    return bool(requested) and strategy.num_replicas_in_sync == 1


@contextlib.contextmanager
def compile_scope(
    strategy: Any, *, jit_compile: bool, steps_per_execution: int, steps_per_epoch: int | None = None
) -> Iterator[dict[str, Any]]:
    """Enters `strategy`'s scope and gives the `compile()` options that work under it.

    Build the model, its optimizer and its metrics inside, so that their variables are
    mirrored on every replica, and compile with the options given: `jit_compile` and
    `steps_per_execution` as requested on one device, adjusted under several replicas
    (see `jit_compile_for` and `steps_per_execution_for`), and never more than
    `steps_per_epoch` when it is given: Keras counts each compiled call as
    `steps_per_execution` steps, so a larger value made the progress bar overshoot (16/11).

    Example:
        >>> import keras, tensorflow as tf
        >>> with compile_scope(tf.distribute.get_strategy(), jit_compile=True, steps_per_execution=4) as options:
        ...     model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        ...     model.compile(optimizer="adam", loss="mse", **options)
        >>> options
        {'jit_compile': True, 'steps_per_execution': 4}
    """
    if steps_per_epoch is not None:
        steps_per_execution = max(1, min(steps_per_execution, steps_per_epoch))
    with strategy.scope():
        yield {
            "jit_compile": jit_compile_for(strategy, jit_compile),
            "steps_per_execution": steps_per_execution_for(strategy, steps_per_execution),
        }


def fit_options(config: TrainConfig) -> dict[str, Any]:
    """A training config's settings of `fit`, as its keyword arguments (override any of them)."""
    return {
        "epochs": config.epochs,
        "early_stopping_patience": config.early_stopping_patience,
        "tensorboard": config.tensorboard,
        "verbose": config.verbose,
        "learning_rate": config.learning_rate,
        "overfit_batches": config.overfit_batches,
    }


class EpochTimer(keras.callbacks.Callback):
    """Adds each epoch's wall time to the logs as `epoch_seconds`."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class WeightSnapshots(keras.callbacks.Callback):
    """Keeps a copy of the model's weights at the end of every epoch, in memory (`snapshots`).

    For a checkpoint ensemble (`pipelines.nets.snapshots`). EarlyStopping restores its
    best weights only when training ends, after the last snapshot is taken. A run resumed
    from a backup has the snapshots of the epochs it trained itself.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.snapshots: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.snapshots.append(self.model.get_weights())


class EpochCounter(keras.callbacks.Callback):
    """Counts the epochs a model has trained (`epochs`), those before a resume from the backup included.

    The history of `fit` holds only the epochs trained since the resume; Keras numbers the
    epochs of a resumed run from where the backup left off.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs = epoch + 1


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup stays loadable if the process is killed at any instant.

    Keras writes `latest.weights.h5` and then `training_metadata.json` in place: a kill
    during the first write leaves a torn weights file (the resume fails), and a kill
    between the two pairs epoch N's weights with epoch N-1's count (the resume trains one
    epoch too many). Here each save writes a new weights file under a temporary name and
    renames it, then atomically replaces the metadata, which names that file; the older
    weights file is deleted last. Whatever instant the kill hits, the metadata names a
    complete weights file of the epoch it records.

    The backup also holds the state of the callbacks in `keep` (early stopping's patience
    count, best value and best weights; the checkpoint's best value), so that a resumed run
    stops, and restores, where the uninterrupted one would. Place it after them in the
    callback list: it must save after they update at an epoch's end, and restore after they
    reset at the start of training.

    Args:
        backup_dir: The folder of the backup.
        delete_checkpoint: Delete the backup when training ends. Defaults to `True`.
        keep: `EarlyStopping` and `ModelCheckpoint` callbacks whose state the backup holds.
    """

    def __init__(
        self, backup_dir: str, *, delete_checkpoint: bool = True, keep: Sequence[keras.callbacks.Callback] = ()
    ) -> None:
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=delete_checkpoint)
        self._keep = list(keep)

    def _save_model(self) -> None:
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        # Keras only writes weights to names ending in ".weights.h5".
        with atomic_path(backup / name, suffix=".weights.h5") as tmp:
            self.model.save_weights(str(tmp), overwrite=True)
        metadata: dict[str, Any] = {"epoch": self._current_epoch, "batch": self._last_batch_seen, "weights": name}
        if self._keep:
            states, arrays = _callback_states(self._keep)
            metadata.update(callbacks=states, state=f"epoch-{self._current_epoch}.state.npz")
            with atomic_path(backup / metadata["state"]) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, *arrays)
        write_text(self._training_metadata_path, json.dumps(metadata))
        for old in backup.glob("epoch-*"):
            if old.name not in (name, metadata.get("state")):
                old.unlink(missing_ok=True)

    def _load_model(self) -> None:
        metadata_path = Path(self._training_metadata_path)
        if not metadata_path.is_file():
            return  # a fresh run
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        name = str(metadata.get("weights", ""))
        # The name comes from a file on disk: it must stay inside the backup folder.
        if Path(name).name != name or not name.endswith(".weights.h5"):
            raise OSError(f"backup metadata {metadata_path} names an invalid weights file {name!r}")
        if not self.model.built:
            raise ValueError("To use BackupAndRestore, build the model before fit().")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(str(Path(self.backup_dir) / name))
        self.model._initial_epoch = int(metadata["epoch"])
        state = str(metadata.get("state", ""))
        if self._keep and state:
            if Path(state).name != state or not state.endswith(".state.npz"):
                raise OSError(f"backup metadata {metadata_path} names an invalid state file {state!r}")
            with np.load(Path(self.backup_dir) / state) as arrays:
                _restore_callback_states(self._keep, metadata.get("callbacks", []), arrays)
            if any(getattr(callback, "stopped_epoch", 0) > 0 for callback in self._keep):
                # Killed after early stopping had decided to stop: train no further epoch.
                self.model._initial_epoch = int(self.params.get("epochs", self.model._initial_epoch))


# The attributes that carry a callback's progress from one epoch to the next: plain values,
# then lists of weight arrays (early stopping's best weights, each snapshot of a checkpoint ensemble).
_CALLBACK_STATE: dict[type, tuple[str, ...]] = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
    keras.callbacks.ModelCheckpoint: ("best",),
    EpochCounter: ("epochs",),
}
_CALLBACK_WEIGHTS: dict[type, str] = {keras.callbacks.EarlyStopping: "best_weights", WeightSnapshots: "snapshots"}


def keeps_state(callback: keras.callbacks.Callback) -> bool:
    """Whether the backup holds `callback`'s progress (see `AtomicBackupAndRestore`)."""
    return isinstance(callback, (*_CALLBACK_STATE, *_CALLBACK_WEIGHTS))


def _of_kind(table: dict[type, Any], callback: keras.callbacks.Callback, default: Any) -> Any:
    return next((value for kind, value in table.items() if isinstance(callback, kind)), default)


def _callback_states(callbacks: Sequence[keras.callbacks.Callback]) -> tuple[list[dict], list[np.ndarray]]:
    """Each callback's progress as JSON values, and its weight lists as arrays: a weight list
    is stored as `[first, count]`, its first index and length in the array list."""
    states: list[dict] = []
    arrays: list[np.ndarray] = []

    def stored(weights: Sequence[Any]) -> list[int]:
        arrays.extend(np.asarray(w) for w in weights)
        return [len(arrays) - len(weights), len(weights)]

    for callback in callbacks:
        state = {key: _plain(getattr(callback, key, None)) for key in _of_kind(_CALLBACK_STATE, callback, ())}
        name = _of_kind(_CALLBACK_WEIGHTS, callback, None)
        value = getattr(callback, name, None) if name else None
        if value is not None:
            state[name] = [stored(w) for w in value] if name == "snapshots" else stored(value)
        states.append(state)
    return states, arrays


def _restore_callback_states(
    callbacks: Sequence[keras.callbacks.Callback], states: Sequence[dict], arrays: Any
) -> None:
    def loaded(span: Sequence[int]) -> list[np.ndarray]:
        first, count = (int(n) for n in span)
        return [arrays[f"arr_{k}"] for k in range(first, first + count)]

    for callback, state in zip(callbacks, states):
        for key in _of_kind(_CALLBACK_STATE, callback, ()):
            if key in state:
                setattr(callback, key, state[key])
        name = _of_kind(_CALLBACK_WEIGHTS, callback, None)
        if name in state:
            setattr(callback, name, [loaded(s) for s in state[name]] if name == "snapshots" else loaded(state[name]))


def _plain(value: Any) -> Any:
    # numpy scalars (a monitored value) as Python numbers, for JSON; inf stays inf.
    return value.item() if isinstance(value, np.generic) else value


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`ModelCheckpoint` that saves under a temporary name and renames, for one fixed path.

    Keras writes the checkpoint in place, so a kill during the save would leave a torn
    `best.keras` in place of the last good one. Here the save goes to a hidden temporary
    file beside it, renamed over the old checkpoint only once it is complete.
    """

    filepath: str  # set by ModelCheckpoint.__init__

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        final = self.filepath
        fd, tmp = tempfile.mkstemp(prefix=".tmp-best-", suffix=".keras", dir=os.path.dirname(final) or ".")
        os.close(fd)
        os.unlink(tmp)  # Keras decides whether to save; the file exists afterwards only if it did
        self.filepath = tmp
        try:
            super()._save_model(epoch, batch, logs)
            if os.path.exists(tmp):
                os.replace(tmp, final)
        finally:
            self.filepath = final
            if os.path.exists(tmp):
                os.unlink(tmp)


_WATCHERS: contextvars.ContextVar[tuple[keras.callbacks.Callback, ...]] = contextvars.ContextVar(
    "epoch_watchers", default=()
)


@contextlib.contextmanager
def watching_epochs(*callbacks: keras.callbacks.Callback) -> Iterator[None]:
    """Adds `callbacks` to every `fit` in the block: a tuning trial's pruner watches the
    validation curve of whatever run the trial starts, without the run knowing of it."""
    token = _WATCHERS.set(_WATCHERS.get() + callbacks)
    try:
        yield
    finally:
        _WATCHERS.reset(token)


def make_callbacks(
    run_dir: Path,
    *,
    early_stopping_patience: int = 0,
    tensorboard: bool = False,
    monitor: str = "val_loss",
    mode: str = "min",
    extra: Sequence[keras.callbacks.Callback] = (),
) -> list[keras.callbacks.Callback]:
    """The standard callbacks, writing into `run_dir`, with `extra` before the backup.

    Args:
        run_dir: The run directory; `backup/`, `checkpoints/` and `tensorboard/` go there.
        early_stopping_patience: Epochs without a better `monitor` before stopping (the best
            weights restored); 0 disables early stopping.
        tensorboard: Write TensorBoard logs to `run_dir/tensorboard`.
        monitor: The validation quantity to watch.
        mode: `min` or `max` for `monitor`.
        extra: More callbacks; the backup holds the progress of those it knows
            (`keeps_state`), e.g. a checkpoint ensemble's snapshots.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    # Keras 3 saves the first epoch whatever its value, so a run that diverges in epoch 1
    # would keep NaN weights as "best". Starting from an infinitely bad threshold means a
    # NaN value never compares better: the file only ever holds a good epoch.
    stateful: list[keras.callbacks.Callback] = [
        AtomicModelCheckpoint(
            str(run_dir / BEST_CHECKPOINT),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            initial_value_threshold=math.inf if mode == "min" else -math.inf,
        )
    ]
    if early_stopping_patience > 0:
        stateful.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=early_stopping_patience, restore_best_weights=True
            )
        )
    callbacks: list[keras.callbacks.Callback] = [
        EpochTimer(),
        GradientNorms(),
        keras.callbacks.TerminateOnNaN(),
        *stateful,
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    callbacks.extend(extra)
    callbacks.extend(_WATCHERS.get())
    # Resumes a killed run from its last finished epoch, with the state of the callbacks
    # above; last, so it saves after they update and restores after they reset. Deleted
    # when training ends.
    keep = [callback for callback in callbacks if keeps_state(callback)]
    callbacks.append(AtomicBackupAndRestore(str(run_dir / "backup"), delete_checkpoint=True, keep=keep))
    return callbacks


def fit(
    model: keras.Model,
    train_ds: Any,
    val_ds: Any,
    run_dir: Path,
    *,
    epochs: int,
    early_stopping_patience: int = 0,
    tensorboard: bool = False,
    verbose: int = 1,
    learning_rate: float | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    extra_callbacks: list[keras.callbacks.Callback] | None = None,
    class_weight: dict[int, float] | None = None,
    overfit_batches: int = 0,
) -> dict[str, list[float]]:
    """Trains `model` with the standard callbacks (`make_callbacks`) and returns the per-epoch history.

    Args:
        overfit_batches: The sanity mode: train on this many batches only, and write whether
            the model memorized them (`pipelines.overfit`); 0 trains normally.
        learning_rate: The peak learning rate, named in the error when the loss diverges.
        class_weight: `{class: weight}` applied to the training loss (see
            `pipelines.class_weights`); `None` weighs every example alike.

    Raises:
        TrainingDivergedError: The loss became NaN or infinite.
    """
    if overfit_batches > 0:
        from pipelines.overfit import fit_few_batches

        return fit_few_batches(
            model,
            train_ds,
            run_dir,
            batches=overfit_batches,
            epochs=epochs,
            verbose=verbose,
            callbacks=[EpochTimer(), GradientNorms(), *(extra_callbacks or ())],
            class_weight=class_weight,
        )
    callbacks = make_callbacks(
        run_dir,
        early_stopping_patience=early_stopping_patience,
        tensorboard=tensorboard,
        monitor=monitor,
        mode=mode,
        extra=extra_callbacks or (),
    )
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # tf.data already shuffles, seeded
        class_weight=class_weight,
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    losses = logs.get("loss", [])
    if any(not math.isfinite(v) for v in losses) or len(losses) < len(logs.get("epoch_seconds", losses)):
        best = Path(run_dir) / BEST_CHECKPOINT
        kept = (
            f"the last good checkpoint (best val loss) is kept at {best}"
            if best.is_file()
            else "no epoch ended with a finite loss, so there is no good checkpoint"
        )
        raise TrainingDivergedError(
            f"training loss became non-finite at epoch {len(losses)} (loss={losses[-1] if losses else 'nan'}). "
            f"Lower learning_rate{'' if learning_rate is None else f' (now {learning_rate})'}; {kept}.",
            history=logs,
        )
    return logs
