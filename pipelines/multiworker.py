"""Multi-worker training: `MultiWorkerMirroredStrategy` driven by a custom training loop.

Keras 3's `fit()` fails under `MultiWorkerMirroredStrategy` ("unsupported type PerReplica":
keras-team/keras#20585, tensorflow/tensorflow#72388; reproduced with Keras 3.15), so a
cluster run trains here instead, with the Keras model and optimizer:

- each worker reads its own shard of the training set (`make_train_dataset` receives a
  `tf.distribute.InputContext`), batched at the per-replica share of the global batch;
- `strategy.run` runs the step on every replica; the loss is scaled by
  `tf.nn.compute_average_loss` over the global batch and the optimizer sums the gradients
  across replicas, so every worker applies the same update and the workers stay identical;
- validation runs on the chief, which sends its numbers to the others (early stopping must
  decide the same on every worker, or the next collective op would wait forever);
- after every epoch a `tf.train.Checkpoint` of the model, the optimizer, the epoch counter
  and the early-stopping state is written: by the chief under `run_dir/backup/`, by the
  others into a temporary folder deleted at once (the standard pattern: every worker takes
  part in a save). A restarted cluster resumes from the chief's checkpoint: the chief reads
  it and broadcasts every restored variable, so the other workers need no shared storage;
- the loop returns a copy of the trained model outside the strategy, for the chief's
  evaluation and saving (Keras's `predict` under this strategy runs collective ops, which
  would wait for workers that are no longer training).

`cluster=None` runs the same loop in one process under any strategy (the default one in
the unit tests).

Usage (on every host, with the same list; see README, "Running on a cluster"):

    pipelines run mnist --workers host1:2222,host2:2222 --worker-index 0   (1 on host2)

or from Python (`make_strategy` blocks until every worker has started):

    from pipelines.worker_cluster import cluster_from_workers
    cluster = cluster_from_workers(("localhost:2222", "localhost:2223"), 0)
    strategy = make_strategy(cluster, "cpu")
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.atomic import atomic_path, write_text
from pipelines.config import TrainConfig
from pipelines.errors import ClusterError, ConfigError, DeviceUnavailableError, OutputDirError, TrainingDivergedError
from pipelines.training import BEST_CHECKPOINT
from pipelines.worker_cluster import Cluster

__all__ = [
    "BACKUP_DIR",
    "DistributedFit",
    "make_strategy",
    "check_global_batch",
    "fit_multiworker",
    "make_train_step",
    "make_scratch_dir",
    "wait_for_all_workers",
]

# The chief's checkpoints, relative to the run directory: the folder the fit() path's
# BackupAndRestore uses, so "a run dir with backup/ and no report is resumable" holds for both.
BACKUP_DIR = Path("backup")
_HISTORY_FILE = "history.json"

# What TensorFlow raises in a collective op when a peer died, restarted or is unreachable.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
)


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


def make_strategy(cluster: Cluster, device: str = "auto") -> tf.distribute.MultiWorkerMirroredStrategy:
    """Starts this worker's server and joins the cluster; blocks until every worker has joined.

    Each worker mirrors over all its local GPUs (`auto`, `gpu`) or uses its CPU (`cpu`, or
    `auto` without GPUs). Must run before any TensorFlow op in the process.

    Raises:
        DeviceUnavailableError: `device="gpu"` on a worker without GPUs.
        ClusterError: TensorFlow already ran in this process, or the server cannot start
            (e.g. the port is taken).
    """
    if device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    elif device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise DeviceUnavailableError(
            "device='gpu' but this worker has no GPU visible to TensorFlow. Pass --device cpu."
        )
    spec = cluster.tf_config()
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(spec["cluster"]), task_type=cluster.task_type, task_id=cluster.task_index, rpc_layer="grpc"
    )
    address = cluster.chief if cluster.task_type == "chief" else cluster.workers[cluster.task_index]
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except RuntimeError as e:
        raise ClusterError(
            f"cannot join the cluster as {cluster.task_type} {cluster.task_index} ({address}): {e}. A multi-worker "
            "run must be the first thing that uses TensorFlow in its process: start it in a fresh process."
        ) from e
    except tf.errors.OpError as e:
        raise ClusterError(
            f"cannot start this worker's server at {address}: {e.message}. Check that the port is free on this host."
        ) from e


def check_global_batch(batch_size: int, num_replicas: int) -> None:
    """Checks that the global batch splits evenly over the replicas of every worker.

    Raises:
        ConfigError: `batch_size` is not a multiple of `num_replicas`.
    """
    if batch_size % num_replicas:
        raise ConfigError(
            f"batch_size is the global batch and must split evenly over the {num_replicas} replicas of the "
            f"cluster. Received: batch_size={batch_size}; pass a multiple of {num_replicas}, "
            f"e.g. {max(num_replicas, batch_size // num_replicas * num_replicas)}."
        )


def make_scratch_dir(cluster: Cluster) -> Path:
    """A private temporary folder for a non-chief worker's checkpoint copies (its caller deletes it)."""
    return Path(tempfile.mkdtemp(prefix=f"pipelines-worker{cluster.rank}-"))


def wait_for_all_workers(strategy: tf.distribute.Strategy) -> None:
    """Returns once every worker has called it: the end of a multi-worker run.

    The non-chief workers wait here while the chief evaluates and writes; ending earlier,
    they would stop answering the chief's heartbeats, and TensorFlow would log them as crashed.

    Raises:
        ClusterError: A worker stopped before reaching this point.
    """
    try:
        with strategy.scope():
            _broadcast_fn(strategy)(tf.zeros([1], tf.float32))
    except _PEER_ERRORS as e:
        raise ClusterError(f"a worker stopped before the end of the run: {_first_line(e)}") from e


def fit_multiworker(
    model: keras.Model,
    make_train_dataset: Callable[[tf.distribute.InputContext], tf.data.Dataset],
    val_ds: tf.data.Dataset,
    config: TrainConfig,
    *,
    strategy: tf.distribute.Strategy,
    cluster: Cluster | None,
    run_dir: Path,
    steps_per_epoch: int,
) -> DistributedFit:
    """Trains a compiled classifier of logits with the custom loop (see the module docstring).

    Args:
        model: Built and compiled under `strategy.scope()`; `model.loss` gives the per-example
            loss and accuracy is the top-1 of its outputs.
        make_train_dataset: Returns this worker's shard of the training set, shuffled and
            batched at `input_context.get_per_replica_batch_size(config.batch_size)`, with at
            least `steps_per_epoch` full batches.
        val_ds: The validation batches, read by the chief only.
        config: Uses `epochs`, `batch_size` (global), `early_stopping_patience`,
            `steps_per_execution`, `jit_compile` and `verbose`.
        strategy: A `MultiWorkerMirroredStrategy` (or any strategy for one process).
        cluster: The cluster, or `None` for a single process (which is then the chief).
        run_dir: The chief's run directory (`backup/`, `checkpoints/best.keras`), or a
            non-chief's scratch folder.
        steps_per_epoch: Optimizer steps per epoch, the same on every worker.

    Returns:
        A `DistributedFit`.

    Raises:
        ConfigError: `batch_size` does not split evenly over the replicas.
        TrainingDivergedError: The loss became non-finite (on every worker at the same epoch).
        ClusterError: A worker stopped or became unreachable; restart all to resume.
        OutputDirError: `backup/` holds a checkpoint of another model.

    Usage (on every worker of the cluster):

        fitted = fit_multiworker(model, make_train_dataset, val_ds, config,
                                 strategy=strategy, cluster=cluster, run_dir=run_dir, steps_per_epoch=31)
        fitted.model.predict(x_test)
    """
    check_global_batch(config.batch_size, strategy.num_replicas_in_sync)
    loop = _Loop(model, config, strategy, cluster, Path(run_dir), steps_per_epoch)
    try:
        return loop.train(make_train_dataset, val_ds)
    except _PEER_ERRORS as e:
        raise ClusterError(
            f"a worker of this run stopped or cannot be reached ({_first_line(e)}). Restart every worker with "
            f"the same command: training resumes from the chief's last checkpoint (epoch {loop.saved_epoch})."
        ) from e


def make_train_step(
    model: keras.Model, strategy: tf.distribute.Strategy, batch_size: int, *, jit_compile: bool = False
) -> Callable[[Any, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """The compiled training step of the loop: `train_steps(iterator, n)` runs `n` steps.

    Args:
        model: Built and compiled under `strategy.scope()` (uses `model.loss`, `model.optimizer`).
        strategy: The strategy whose replicas run the step.
        batch_size: The global batch size (the loss is averaged over it).
        jit_compile: XLA-compile the forward and backward pass (not the gradient all-reduce:
            XLA on CPU cannot compile collective ops). Defaults to `False`.

    Returns:
        A `tf.function` taking a distributed iterator and a step count and returning the sum
        of the steps' global mean losses and the number of correct top-1 predictions.

    Example (the default strategy stands in for a cluster's):
        >>> strategy = tf.distribute.get_strategy()
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> x, y = np.zeros((64, 4), "float32"), np.zeros(64, "int32")
        >>> dist_ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
        >>> train_steps = make_train_step(model, strategy, 16)
        >>> loss_sum, correct = train_steps(iter(dist_ds), tf.constant(4))
        >>> int(correct)  # Dense starts at zero bias: every logit ties, and class 0 wins the tie
        64
    """
    optimizer = model.optimizer

    def gradients(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            # Summed over this replica's examples, divided by the global batch: the
            # optimizer's cross-replica sum of gradients is then the global mean's gradient.
            loss = tf.nn.compute_average_loss(_per_example_loss(model.loss, y, y_pred), global_batch_size=batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)  # mixed_float16's loss scale; the identity otherwise
        return loss, tape.gradient(scaled, model.trainable_variables), _count_correct(y, y_pred)

    if jit_compile:
        gradients = tf.function(gradients, jit_compile=True)

    # Keras 3 updates BatchNormalization's moving statistics on each replica from its own
    # batch, so the workers' statistics drift apart (measured: only bn*/moving_* differed after
    # one epoch). Averaging them after every step keeps the workers identical; as the update is
    # linear, it equals Keras 2's MEAN aggregation of the update.
    averaged = [v for v in model.non_trainable_variables if v.dtype.startswith("float")]

    def replica_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        loss, grads, correct = gradients(x, y)
        # Outside the XLA cluster: the optimizer all-reduces the gradients here.
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        ctx = tf.distribute.get_replica_context()
        values = []
        for variable in averaged:
            # Placed on the variable's device: the all-reduce takes its destination from the
            # tensor's device, which a bare read inside the function leaves empty.
            with tf.device(variable.value.device):
                values.append(tf.identity(variable.value))
        return loss, correct, _all_reduce_by_dtype(ctx, tf.distribute.ReduceOp.MEAN, values)

    @tf.function
    def train_steps(iterator: Any, n: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        # Several steps per call, as steps_per_execution does for fit(): less Python per step.
        for _ in tf.range(n):
            loss, right, means = strategy.run(replica_step, args=next(iterator))
            # Assigned here, in cross-replica context, which writes every local copy (a
            # replica-context write needs an aggregation these variables do not have).
            for variable, mean in zip(averaged, means):
                variable.assign(strategy.experimental_local_results(mean)[0])
            loss_sum += strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
            correct += strategy.reduce(tf.distribute.ReduceOp.SUM, right, axis=None)
        return loss_sum, correct

    return train_steps


# ----------------------------------------------------------------------------- internals


class _Loop:
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

    # -- checkpoints

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


def _broadcast_fn(strategy: tf.distribute.Strategy) -> Callable[..., list[tf.Tensor]]:
    """A compiled function returning the chief's values of its tensor arguments, on every worker.

    An all-reduce sum to which only global replica 0 (the chief's first device: TensorFlow
    numbers the chief's replicas first) contributes: exact, since x + 0 == x.
    """

    def replica_fn(*values: tf.Tensor) -> list[tf.Tensor]:
        ctx = tf.distribute.get_replica_context()
        is_source = tf.equal(ctx.replica_id_in_sync_group, 0)
        return _all_reduce_by_dtype(
            ctx, tf.distribute.ReduceOp.SUM, [tf.where(is_source, v, tf.zeros_like(v)) for v in values]
        )

    @tf.function
    def broadcast(*values: tf.Tensor) -> list[tf.Tensor]:
        out = strategy.run(replica_fn, args=values)
        return [strategy.experimental_local_results(v)[0] for v in out]

    return broadcast


def _all_reduce_by_dtype(
    ctx: tf.distribute.ReplicaContext, op: tf.distribute.ReduceOp, values: list[tf.Tensor]
) -> list[tf.Tensor]:
    # One all-reduce per dtype: TensorFlow packs a list into one buffer of a single dtype.
    out: list[Any] = [None] * len(values)
    for dtype in sorted({v.dtype for v in values}, key=lambda d: d.name):
        positions = [i for i, v in enumerate(values) if v.dtype == dtype]
        for i, value in zip(positions, ctx.all_reduce(op, [values[i] for i in positions])):
            out[i] = value
    return out


def _assign_from_chief(broadcast: Callable[..., list[tf.Tensor]], variables: list[Any]) -> None:
    values = broadcast(*[tf.convert_to_tensor(v) for v in variables])
    for variable, value in zip(variables, values):
        variable.assign(value)


def _per_example_loss(loss: keras.losses.Loss, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    # Loss.call is the unreduced loss; __call__ would average over this replica's batch only.
    dtype = getattr(loss, "dtype", None) or "float32"
    return loss.call(tf.cast(y_true, dtype), tf.cast(y_pred, dtype))


def _count_correct(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    # Integer labels, or one-hot (label-smoothed) rows: the top class either way.
    labels = tf.argmax(y_true, axis=-1) if y_true.shape.rank == y_pred.shape.rank else tf.cast(y_true, tf.int64)
    hits = tf.equal(tf.reshape(labels, [-1]), tf.argmax(y_pred, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.float32))


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


def _first_line(error: BaseException) -> str:
    """The line of a TensorFlow error that says what happened (its first line is often "Graph execution error:")."""
    lines = [line.strip() for line in (getattr(error, "message", None) or str(error)).splitlines() if line.strip()]
    for line in lines:
        if re.search(r"unhealthy|aborted|connect|preempt|heartbeat|restart|not match|not found", line, re.IGNORECASE):
            return f"{type(error).__name__}: {line}"
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
