"""The image classifier on several workers: each worker's slice of the images, and the custom loop.

`pipelines.recipes.image_classifier` calls these when the run has a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from pipelines.errors import ConfigError
from pipelines.inputs.images import make_image_dataset

if TYPE_CHECKING:
    from pipelines.recipes.image_classifier import ImageClassifierConfig
    from pipelines.runner import RunContext

__all__ = ["sparse_or_smoothed", "cluster_steps_per_epoch", "make_worker_dataset_fn", "fit_on_cluster"]


def sparse_or_smoothed(ds: tf.data.Dataset, num_classes: int, label_smoothing: float) -> tf.data.Dataset:
    """`ds` with one-hot labels under label smoothing (Keras 3's sparse loss has none), else itself."""
    if label_smoothing == 0:
        return ds
    return ds.map(lambda x, y: (x, tf.one_hot(y, num_classes)), num_parallel_calls=tf.data.AUTOTUNE)


def cluster_steps_per_epoch(n_train: int, batch_size: int) -> int:
    """The steps of a cluster epoch.

    Raises:
        ConfigError: Fewer images than one global batch.
    """
    # Whole global batches only: every worker must run the same number of steps (a worker
    # stepping alone would wait forever in the all-reduce), and each worker's shard holds
    # at least n_train // batch_size batches of its share.
    if n_train < batch_size:
        raise ConfigError(
            f"a multi-worker run needs at least one global batch of training images. "
            f"Received: {n_train} images, batch_size={batch_size}; lower batch_size."
        )
    return n_train // batch_size


def make_worker_dataset_fn(
    x_train: np.ndarray, y_train: np.ndarray, config: ImageClassifierConfig, num_classes: int
) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """The training input of a multi-worker run: each worker reads its own slice of the images.

    Worker `i` of `n` takes images `i, i + n, i + 2n, ...` (disjoint slices that keep the
    class mix), shuffles and augments them with its own seed, and batches them at the
    per-replica share of the global `config.batch_size`.

    Example (the default strategy stands in for a cluster's):
        >>> import pipelines
        >>> config = pipelines.get_config("mnist", batch_size=4)
        >>> x, y = np.zeros((8, 28, 28, 1), "uint8"), np.arange(8) % 2
        >>> fn = make_worker_dataset_fn(x, y, config, 2)
        >>> images, labels = next(iter(tf.distribute.get_strategy().distribute_datasets_from_function(fn)))
        >>> tuple(images.shape)
        (4, 28, 28, 1)
    """

    def make_train_dataset(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        shard = slice(input_context.input_pipeline_id, None, input_context.num_input_pipelines)
        ds = make_image_dataset(
            x_train[shard],
            y_train[shard],
            batch_size=input_context.get_per_replica_batch_size(config.batch_size),
            training=True,
            augment=config.augment,
            seed=config.seed + input_context.input_pipeline_id,
            cache=config.use_cache,
            num_classes=num_classes,
        )
        return sparse_or_smoothed(ds, num_classes, config.label_smoothing)

    return make_train_dataset


def fit_on_cluster(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    val_ds: tf.data.Dataset,
    config: ImageClassifierConfig,
    ctx: RunContext,
    num_classes: int,
    steps_per_epoch: int,
) -> keras.Model:
    """Trains `model` with the multi-worker loop; the history (and a resume) go into the report."""
    from pipelines.multiworker import fit_multiworker

    fitted = fit_multiworker(
        model,
        make_worker_dataset_fn(x_train, y_train, config, num_classes),
        val_ds,
        config,
        strategy=ctx.strategy,
        cluster=ctx.cluster,
        run_dir=ctx.run_dir,
        steps_per_epoch=steps_per_epoch,
    )
    ctx.report.history = fitted.history
    if fitted.initial_epoch:
        ctx.report.extra["resumed_from_epoch"] = fitted.initial_epoch
    return fitted.model
