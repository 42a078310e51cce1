"""The loop's checkpoints: save and restore of the training state, resume, and the best epoch's model."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from pipelines.atomic import atomic_path, write_text
from pipelines.errors import OutputDirError
from pipelines.multiworker.peer_errors import _first_line
from pipelines.multiworker.reductions import _assign_from_chief
from pipelines.training import BEST_CHECKPOINT

# The chief's checkpoints, relative to the run directory: the folder the fit() path's
# BackupAndRestore uses, so "a run dir with backup/ and no report is resumable" holds for both.
BACKUP_DIR = Path("backup")
_HISTORY_FILE = "history.json"


class _Checkpoints:
    """The checkpoint half of `_Loop` (which sets these attributes): what a restarted cluster resumes from."""

    model: keras.Model
    strategy: tf.distribute.Strategy
    is_chief: bool
    run_dir: Path
    checkpoint: tf.train.Checkpoint
    epoch: tf.Variable
    wait: tf.Variable
    state: list[Any]
    saved_epoch: int
    _broadcast: Callable[..., list[tf.Tensor]]

    def _restore(self) -> dict[str, list[float]]:
        """Restores the chief's last checkpoint, if any, then gives every worker the chief's state."""
        history: dict[str, list[float]] = {}
        if self.is_chief:
            backup = self.run_dir / BACKUP_DIR
            latest = tf.train.latest_checkpoint(str(backup)) if backup.is_dir() else None
            if latest is not None:
                try:
                    self.checkpoint.restore(latest).assert_consumed()
                except (AssertionError, ValueError, tf.errors.OpError) as e:
                    raise OutputDirError(
                        f"the checkpoint {latest} does not match this model ({_first_line(e)}). It belongs to "
                        f"another run: pass a new --out DIR, or delete {backup} to start over."
                    ) from e
                history = self._read_history(backup, int(self.epoch.numpy()))
        # Also on a fresh start: the workers begin from the chief's initial weights, whatever
        # their own initializers drew.
        self._sync_from_chief()
        return history

    def _save(self, history: dict[str, list[float]]) -> None:
        if self.is_chief:
            backup = self.run_dir / BACKUP_DIR
            backup.mkdir(parents=True, exist_ok=True)
            # The history first: the checkpoint names the epoch, and a history written after
            # it could lag behind after a kill; a longer one is cut to the epoch on restore.
            write_text(backup / _HISTORY_FILE, json.dumps(history))
            # TensorFlow writes the data under temporary names and updates the `checkpoint`
            # index file atomically, so a kill never leaves the index naming a torn checkpoint.
            tf.train.CheckpointManager(self.checkpoint, str(backup), max_to_keep=1).save(
                checkpoint_number=int(self.epoch.numpy())
            )
        else:
            scratch = Path(tempfile.mkdtemp(prefix="checkpoint-", dir=self.run_dir))
            try:
                self.checkpoint.write(str(scratch / "ckpt"))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        self.saved_epoch = int(self.epoch.numpy())

    def _save_best(self) -> None:
        best = self.run_dir / BEST_CHECKPOINT
        best.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(best) as tmp:
            self.model.save(tmp)

    def _finish(self, patience: int) -> None:
        # As EarlyStopping(restore_best_weights=True) in the fit() path: end on the best epoch.
        # Every worker takes this branch or none: `wait` is the same everywhere.
        if patience > 0 and self.wait.numpy() > 0:
            best = self.run_dir / BEST_CHECKPOINT
            if self.is_chief and best.is_file():
                self.model.load_weights(str(best))
            self._sync_from_chief()  # only the chief has the file
        if self.is_chief:
            shutil.rmtree(self.run_dir / BACKUP_DIR, ignore_errors=True)

    def _sync_from_chief(self) -> None:
        with self.strategy.scope():
            _assign_from_chief(self._broadcast, self.state)

    @staticmethod
    def _read_history(backup: Path, epochs: int) -> dict[str, list[float]]:
        try:
            saved = json.loads((backup / _HISTORY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # the weights resume all the same; only the report's curves start later
        return {k: [float(v) for v in values[:epochs]] for k, values in saved.items()}
