"""Randomness drawn from (seed, epoch), so that a resumed run repeats the uninterrupted one.

A run killed after epoch k and started again resumes from its backup
(`training.AtomicBackupAndRestore`): weights, optimizer and callback state. What a backup
cannot hold is where the random streams stood: tf.data's reshuffle and Keras's seed
generators (dropout, the augmentation layers) start again from their seeds in a new
process, so the resumed epochs would draw other numbers than the uninterrupted run did.
`EpochSeeds` takes that history away. At the start of epoch `e` it sets the epoch from which
the training input draws its order (`epoch_batches`) and resets every seed generator of the
model, and of the augmenters it tracks, to a state derived from `(seed, its index, e)`.
Epoch `e` then draws the same numbers whether the process trained epochs `0..e-1` itself
or resumed after them.

Example:
    >>> seeds = EpochSeeds(seed=0)
    >>> batches = epoch_batches((np.arange(5),), 5, seed=0, epoch=seeds.epoch)
    >>> first = [rows.numpy().tolist() for (rows,), key in batches][0]
    >>> _ = seeds.epoch.assign(1)
    >>> second = [rows.numpy().tolist() for (rows,), key in batches][0]
    >>> sorted(first) == sorted(second) == [0, 1, 2, 3, 4], first != second
    (True, True)
    >>> _ = seeds.epoch.assign(0)
    >>> [rows.numpy().tolist() for (rows,), key in batches][0] == first  # a function of (seed, epoch)
    True
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["EpochSeeds", "epoch_batches"]


class EpochSeeds(keras.callbacks.Callback):
    """At each epoch's start: the input's epoch, and every seed generator reset from (seed, epoch).

    Create it outside a distribution strategy's scope (its epoch is read by the input
    pipeline on the host), hand `epoch` to `epoch_batches`, `track` the layers that run inside
    tf.data (augmenters), and pass it to `fit` as a callback.

    Args:
        seed: The run's seed.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._tracked: list[Any] = []

    def track(self, layer: Any) -> None:
        """Also reset the seed generators of `layer` (e.g. an augmenter called inside tf.data)."""
        self._tracked.append(layer)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.assign(epoch)
        owners = [self.model, *self._tracked] if self.model is not None else self._tracked
        states = [v for owner in owners for v in owner.variables if v.path.endswith("seed_generator_state")]
        for index, state in enumerate(states):
            # A distinct stream per generator and epoch; the counter restarts at 0.
            stream = np.random.SeedSequence([self.seed, index, epoch]).generate_state(1)[0]
            state.assign(np.array([stream, 0], dtype=state.dtype))


def epoch_batches(
    arrays: tuple[np.ndarray, ...], batch_size: int, *, seed: int, epoch: tf.Variable, drop_remainder: bool = False
) -> tf.data.Dataset:
    """Batches of the rows of `arrays`, in an order drawn from `(seed, epoch)`, each with a key.

    The arrays stay in memory as tensors; each batch gathers its rows by index (no cache
    or shuffle buffer). The epoch is read once, as each epoch's iteration starts. The key,
    an int64 distinct for every (epoch, batch), seeds what a batch draws with stateless ops
    (e.g. its noise).

    Returns:
        A dataset of `(batch, key)`: `batch` holds one tensor per array.
    """
    tensors = tuple(tf.constant(a) for a in arrays)
    n = len(arrays[0])

    def one_epoch(_: tf.Tensor) -> tf.data.Dataset:
        current = epoch.read_value()
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64), current]))
        batches = tf.data.Dataset.from_tensor_slices(tf.argsort(keys)).batch(batch_size, drop_remainder=drop_remainder)
        return batches.enumerate().map(
            lambda i, rows: (tuple(tf.gather(t, rows) for t in tensors), current * 2**32 + i),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    steps = n // batch_size if drop_remainder else -(-n // batch_size)
    # flat_map hides the length; stated, Keras knows an epoch's steps (progress bar, no "ran out of data").
    return tf.data.Dataset.from_tensors(0).flat_map(one_epoch).apply(tf.data.experimental.assert_cardinality(steps))
