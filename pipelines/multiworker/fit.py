"""The entry point: check the global batch, run the loop, and turn a lost peer into a `ClusterError`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from pipelines.config import TrainConfig
from pipelines.errors import ClusterError, ConfigError
from pipelines.multiworker.loop import DistributedFit, _Loop
from pipelines.multiworker.peer_errors import _PEER_ERRORS, _first_line
from pipelines.worker_cluster import Cluster


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
    """Trains a compiled classifier of logits with the custom loop (see the `pipelines.multiworker` docstring).

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
