"""The epoch loop and its state: train, validate on the chief, agree on early stopping, return the model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.config import TrainConfig
from pipelines.errors import TrainingDivergedError
from pipelines.multiworker.checkpoints import _Checkpoints
from pipelines.multiworker.reductions import _broadcast_fn
from pipelines.multiworker.train_step import _count_correct, _per_example_loss, make_train_step
from pipelines.training import BEST_CHECKPOINT
from pipelines.worker_cluster import Cluster


@dataclass
class DistributedFit:
    """What `fit_multiworker` returns.

    Attributes:
        model: A copy of the trained model outside the strategy (compiled like the original,
            with the optimizer's state): evaluate and save this one.
        history: Per-epoch `loss`, `accuracy`, `val_loss`, `val_accuracy`, `epoch_seconds`.
            On the chief it includes the epochs before a restart.
        initial_epoch: The epoch training started from: 0, or the restored checkpoint's.
    """

    model: keras.Model
    history: dict[str, list[float]]
    initial_epoch: int


class _Loop(_Checkpoints):
    """The state of one multi-worker training: its functions, checkpoint and counters."""

    def __init__(
        self,
        model: keras.Model,
        config: TrainConfig,
        strategy: tf.distribute.Strategy,
        cluster: Cluster | None,
        run_dir: Path,
        steps_per_epoch: int,
    ) -> None:
        self.model, self.config, self.strategy, self.cluster = model, config, strategy, cluster
        self.is_chief = cluster is None or cluster.is_chief
        self.run_dir, self.steps_per_epoch = run_dir, steps_per_epoch
        self.optimizer = model.optimizer
        with strategy.scope():
            if not self.optimizer.built:
                self.optimizer.build(model.trainable_variables)
        # Plain variables: the chief's values reach the others through _sync_from_chief.
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_val_loss")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_without_improvement")
        self.checkpoint = tf.train.Checkpoint(
            model=list(model.variables),
            optimizer=list(self.optimizer.variables),
            epoch=self.epoch,
            best_val_loss=self.best,
            epochs_without_improvement=self.wait,
        )
        self.state = list(model.variables) + list(self.optimizer.variables) + [self.epoch, self.best, self.wait]
        self.saved_epoch = 0
        self._broadcast = _broadcast_fn(strategy)
        self._train_steps = make_train_step(model, strategy, config.batch_size, jit_compile=config.jit_compile)
        self._val_batch = self._make_val_function()

    # -- the loop

    def train(self, make_train_dataset: Callable[..., tf.data.Dataset], val_ds: tf.data.Dataset) -> DistributedFit:
        history = self._restore()
        initial_epoch = self.saved_epoch = int(self.epoch.numpy())
        dist_ds = self.strategy.distribute_datasets_from_function(make_train_dataset)
        patience = self.config.early_stopping_patience
        for epoch in range(initial_epoch, self.config.epochs):
            start = time.perf_counter()
            logs = self._train_epoch(iter(dist_ds))
            val = np.asarray(self._validate(val_ds) if self.is_chief else [0.0, 0.0], "float64")
            with self.strategy.scope():
                val = self._broadcast(tf.constant(val))[0].numpy()
            logs.update(val_loss=float(val[0]), val_accuracy=float(val[1]), epoch_seconds=time.perf_counter() - start)
            for key, value in logs.items():
                history.setdefault(key, []).append(value)
            self._print(epoch, logs)
            if not math.isfinite(logs["loss"]):
                raise self._diverged(history)
            if logs["val_loss"] < self.best.numpy():  # NaN never improves: the best file only holds a good epoch
                self.best.assign(logs["val_loss"])
                self.wait.assign(0)
                if self.is_chief:
                    self._save_best()
            else:
                self.wait.assign_add(1)
            self.epoch.assign(epoch + 1)
            self._save(history)
            if patience > 0 and self.wait.numpy() >= patience and epoch > 0:
                break
        self._finish(patience)
        return DistributedFit(model=_detached_copy(self.model), history=history, initial_epoch=initial_epoch)

    def _train_epoch(self, iterator: Any) -> dict[str, float]:
        per_call = max(1, min(self.config.steps_per_execution, self.steps_per_epoch))
        loss_sum = correct = 0.0
        done = 0
        while done < self.steps_per_epoch:
            n = min(per_call, self.steps_per_epoch - done)
            loss, right = self._train_steps(iterator, tf.constant(n))
            loss_sum, correct, done = loss_sum + float(loss), correct + float(right), done + n
        return {"loss": loss_sum / done, "accuracy": correct / (done * self.config.batch_size)}

    def _validate(self, val_ds: tf.data.Dataset) -> list[float]:
        loss_sum = correct = count = 0.0
        for x, y in val_ds:
            loss, right, n = self._val_batch(x, y)
            loss_sum, correct, count = loss_sum + float(loss), correct + float(right), count + float(n)
        return [loss_sum / count, correct / count]

    # -- compiled functions

    def _make_val_function(self) -> Callable[..., Any]:
        model = self.model

        # Called on the chief only, outside strategy.run: it reads the local copies of the
        # mirrored variables and runs no collective op.
        @tf.function(jit_compile=bool(self.config.jit_compile))
        def val_batch(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            y_pred = model(x, training=False)
            per_example = _per_example_loss(model.loss, y, y_pred)
            if model.losses:
                per_example += tf.add_n(model.losses)
            return tf.reduce_sum(per_example), _count_correct(y, y_pred), tf.cast(tf.shape(y_pred)[0], tf.float32)

        return val_batch

    # -- reporting

    def _diverged(self, history: dict[str, list[float]]) -> TrainingDivergedError:
        losses = history["loss"]
        best = self.run_dir / BEST_CHECKPOINT
        kept = (
            f"the last good checkpoint (best val loss) is kept at {best}"
            if self.is_chief and best.is_file()
            else "no epoch ended with a finite loss, so there is no good checkpoint"
            if self.is_chief
            else "the chief keeps the last good checkpoint"
        )
        return TrainingDivergedError(
            f"training loss became non-finite at epoch {len(losses)} (loss={losses[-1]}). "
            f"Lower learning_rate (now {self.config.learning_rate}); {kept}.",
            history=history,
        )

    def _print(self, epoch: int, logs: dict[str, float]) -> None:
        if self.config.verbose and self.is_chief:
            parts = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if k != "epoch_seconds")
            print(f"Epoch {epoch + 1}/{self.config.epochs} - {logs['epoch_seconds']:.1f}s - {parts}", flush=True)


def _detached_copy(model: keras.Model) -> keras.Model:
    """The model rebuilt outside the strategy, with its weights, compile settings and optimizer state."""
    # Built outside strategy.scope(), the copy belongs to the default strategy.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile_from_config(model.get_compile_config())
    copy.optimizer.build(copy.trainable_variables)
    for target, source in zip(copy.optimizer.variables, model.optimizer.variables):
        target.assign(source.numpy())
    return copy
