"""The tf.data input step for text classifiers: vectorize, trim, cache, shuffle, augment, bucket.

`make_text_dataset` vectorizes inside `tf.data.map`, outside the model, so an
XLA-compiled model never sees strings. Each example's padding is cut off and the ids
are cached; training examples are then shuffled, optionally augmented (fresh each
epoch, after the cache) and batched with others of similar length, so a batch is padded
only to its longest member rather than to `sequence_length`.

The vectorizer (`make_vectorizer`, adapted on the training texts only, so validation and
test words the training split never saw map to the OOV id 1; 0 is padding) and the
Keras-registered `standardize_text` and `HeadTailTextVectorization` live in
`pipelines.inputs.text_vectorizer`. They are importable from here too, and importing
this module registers them.

Example:
    >>> texts = ["a good film", "a bad film", "good", "bad bad bad bad"]
    >>> vectorizer = make_vectorizer(texts, max_tokens=10, sequence_length=8)
    >>> ds = make_text_dataset(texts, [1, 0, 1, 0], vectorizer, batch_size=4,
    ...                        training=False)
    >>> [tuple(ids.shape) for ids, _ in ds]  # padded to the longest text, not to 8
    [(4, 4)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.config import param, validate_config
from pipelines.epoch_seeds import EpochSeeds
from pipelines.errors import ConfigError
from pipelines.inputs.text import check_texts, check_texts_and_labels
from pipelines.inputs.text_vectorizer import (
    VECTORIZE_BATCH_SIZE,
    HeadTailTextVectorization,
    _check_int,
    head_tokens_for,
    make_vectorizer,
    standardize_text,
)

__all__ = [
    "HeadTailTextVectorization",
    "TextAugmentConfig",
    "default_bucket_boundaries",
    "head_tokens_for",
    "make_text_dataset",
    "make_vectorizer",
    "standardize_text",
]

# Bucket widths grow by this factor, so a batch carries at most ~25 % padding.
BUCKET_RATIO = 1.25
BUCKET_START = 8


@dataclass
class TextAugmentConfig:
    """Training-only token augmentation, on the cached token ids of each example.

    Token dropout deletes each token with probability `token_dropout` (one token always
    survives); adjacent swaps exchange a token with its right neighbour with probability
    `swap_rate` per position (overlapping swaps are skipped, so the effective rate is
    `swap_rate * (1 - swap_rate)`). Off by default: turn it on where it measurably helps.
    """

    use_augmentation: bool = param(False, "Apply token augmentation to the training split.")
    token_dropout: float = param(0.1, "Probability of deleting each token (one always stays).", ge=0, lt=1)
    swap_rate: float = param(0.1, "Probability of swapping a token with its right neighbour.", ge=0, le=1)


def make_text_dataset(
    texts: Sequence[str] | np.ndarray,
    labels: Sequence[Any] | np.ndarray | None,
    vectorizer: keras.layers.TextVectorization,
    batch_size: int,
    training: bool,
    seed: int = 0,
    augment: TextAugmentConfig | None = None,
    bucket: bool = True,
    *,
    bucket_boundaries: Sequence[int] | None = None,
    epoch_seeds: EpochSeeds | None = None,
) -> tf.data.Dataset:
    """Builds the batched dataset of token ids (int32, 0 = padding) and int32 labels.

    The order of operations: vectorize (batches of 1024 texts in `tf.data.map`), cut
    each example's padding (at least one id stays, so an all-punctuation text is a
    single 0), cache, then for training: shuffle (seeded, reshuffled each epoch),
    augment (fresh randomness each epoch, reproducible for a given `seed`) and bucket
    by length. Evaluation datasets keep the input order (so predictions line up with
    `texts`) and pad each batch to its longest text. Building a bucketed training
    dataset runs the vectorization once, to count the batches: that pass fills the
    cache, so the first epoch does not repeat it. The dataset's cardinality is set.

    Args:
        texts: The texts.
        labels: 0/1 labels, one per text, or `None` for a dataset of ids only.
        vectorizer: A `TextVectorization` with `output_mode="int"`, e.g. from
            `make_vectorizer`.
        batch_size: Examples per batch.
        training: Shuffle, augment and bucket.
        seed: Seed of the shuffle and the augmentation. Defaults to `0`.
        augment: Token augmentation, used only when `training` and
            `augment.use_augmentation`. Defaults to `None` (none).
        bucket: Batch training examples with others of similar length (this reorders
            them); `False` batches in shuffled order, padded to each batch's longest.
            Defaults to `True`.
        bucket_boundaries: Increasing length boundaries of the buckets. Defaults to
            `default_bucket_boundaries(sequence_length)`.
        epoch_seeds: With `training`: draw each epoch's order and augmentation from
            `(seed, epoch)` (see `pipelines.epoch_seeds`), so a resumed run repeats the
            uninterrupted one; pass the same object to `fit` as a callback.

    Returns:
        A `tf.data.Dataset` of `(ids, labels)` batches, or of `ids` when `labels` is
        `None`; `ids` is int32 `(batch, length)` with `length <= sequence_length`.

    Raises:
        ConfigError: if `batch_size`, `augment`, `bucket_boundaries` or the vectorizer's
            output mode is invalid.
        DataValidationError: if a text is empty or not a `str`, a label is not 0/1, or
            the lengths differ.

    Example:
        >>> v = make_vectorizer(["good good", "bad"], max_tokens=4, sequence_length=4)
        >>> ds = make_text_dataset(["good bad good", "bad"], None, v, 2, training=False)
        >>> next(iter(ds)).numpy().tolist()  # good = 2, bad = 3, padded to 3 ids not 4
        [[2, 3, 2], [3, 0, 0]]
    """
    _check_int("batch_size", batch_size, 1, "at least one example per batch")
    if augment is not None:
        if not isinstance(augment, TextAugmentConfig):
            raise ConfigError(f"expected augment to be a TextAugmentConfig or None. Received: {type(augment).__name__}")
        validate_config(augment)
    config = vectorizer.get_config()
    if config["output_mode"] != "int":
        raise ConfigError(
            f"expected a TextVectorization with output_mode='int'. Received: output_mode={config['output_mode']!r}"
        )
    if labels is None:
        x = check_texts(texts)
        ds = tf.data.Dataset.from_tensor_slices(x)
    else:
        x, y, _ = check_texts_and_labels(texts, labels, with_both_classes_check=False)
        ds = tf.data.Dataset.from_tensor_slices((x, y.astype("int32")))
    boundaries = _boundaries(bucket_boundaries, config["output_sequence_length"])

    # Labels, when present, ride along untouched: these steps map the ids only.
    def on_ids(fn: Callable[[tf.Tensor], tf.Tensor]) -> Callable[..., Any]:
        return fn if labels is None else (lambda ids, y: (fn(ids), y))

    ds = ds.batch(VECTORIZE_BATCH_SIZE).map(
        on_ids(lambda t: tf.cast(vectorizer(t), tf.int32)), num_parallel_calls=tf.data.AUTOTUNE
    )
    ds = ds.unbatch().map(on_ids(_trim_padding), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.cache()
    # A known number of batches lets Keras size its progress bar and spares the
    # spurious "Your input ran out of data" warning at the end of every epoch.
    n_batches = math.ceil(len(x) / batch_size)
    if not training:
        return _with_cardinality(ds.padded_batch(batch_size), n_batches)
    is_bucketed = bucket and bool(boundaries)
    if is_bucketed:
        # One pass fills the cache (the first epoch then reads it) and gives the lengths,
        # hence each bucket's size and the exact number of batches.
        lengths = np.concatenate(
            list(
                ds.map((lambda ids: tf.shape(ids)[0]) if labels is None else (lambda ids, y: tf.shape(ids)[0]))
                .batch(VECTORIZE_BATCH_SIZE)
                .as_numpy_iterator()
            )
        )
        per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
        n_batches = int(np.sum(-(-per_bucket // batch_size)))

    # Each example carries its length before augmentation, and buckets use that: bucket
    # sizes, hence the batches per epoch, stay the same every epoch. Keras fixes the
    # steps per epoch after the first one, and would cut a longer epoch short.
    if labels is None:
        ds = ds.map(lambda ids: (ids, tf.shape(ids)[0]))
    else:
        ds = ds.map(lambda ids, y: (ids, tf.shape(ids)[0], y))
    augmenting = augment is not None and augment.use_augmentation
    if epoch_seeds is not None:
        ds = _epoch_seeded(ds, len(x), seed, epoch_seeds.epoch)
    else:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        if augmenting:
            # Stateless ops seeded from a stream that changes every epoch: fresh
            # augmentation per epoch, yet the same sequence for the same seed.
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)
            ds = tf.data.Dataset.zip((ds, seeds))
    if augmenting:
        assert augment is not None, "augmenting implies a config"
        augment_ids = _augmenter(augment.token_dropout, augment.swap_rate)
        ds = ds.map(lambda element, s: (augment_ids(element[0], s), *element[1:]), num_parallel_calls=tf.data.AUTOTUNE)
    elif epoch_seeds is not None:
        ds = ds.map(lambda element, s: element)
    if is_bucketed:
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda ids, length, *label: length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        ds = ds.padded_batch(batch_size)
    if labels is None:
        ds = ds.map(lambda ids, length: ids)
    else:
        ds = ds.map(lambda ids, length, y: (ids, y))
    return _with_cardinality(ds, n_batches)


def _epoch_seeded(cached: tf.data.Dataset, n: int, seed: int, epoch: tf.Variable) -> tf.data.Dataset:
    """`(element, seeds)` pairs: the cached examples in an order, and with augmentation seeds,
    drawn from `(seed, epoch)`; the epoch is read as each epoch's iteration starts.

    The examples are gathered into one ragged batch in memory (they are cached there
    already) and picked by index, since a dataset read in sequence cannot be shuffled by a
    seed that changes per epoch (a tensor seed fails inside TensorFlow's seed logic).
    """
    everything = next(iter(cached.ragged_batch(n)))

    def one_epoch(_: tf.Tensor) -> tf.data.Dataset:
        current = epoch.read_value()
        key = tf.stack([tf.constant(seed, tf.int64), current])
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))

        def pick(i: tf.Tensor, index: tf.Tensor) -> tuple[Any, tf.Tensor]:
            seeds = tf.random.stateless_uniform(
                [4], seed=tf.stack([key[0], current * 2**32 + i]), minval=None, maxval=None, dtype=tf.int64
            )
            return tuple(part[index] for part in everything), seeds

        return tf.data.Dataset.from_tensor_slices(order).enumerate().map(pick)

    return tf.data.Dataset.from_tensors(0).flat_map(one_epoch)


def default_bucket_boundaries(sequence_length: int | None) -> list[int]:
    """Length boundaries growing by 25 % from 8 up to `sequence_length`.

    A bucket holds lengths in `[boundaries[i - 1], boundaries[i])`, so padding within a
    batch stays below a quarter of its length (apart from the shortest buckets).

    Args:
        sequence_length: The longest sequence; `None` (no cut) allows up to 2048.

    Returns:
        The boundaries, increasing; empty when `sequence_length < 8`.

    Example:
        >>> default_bucket_boundaries(40)
        [8, 10, 13, 17, 22, 28, 35]
    """
    top = 2048 if sequence_length is None else sequence_length
    boundaries, b = [], BUCKET_START
    while b <= top:
        boundaries.append(b)
        b = max(b + 1, math.ceil(b * BUCKET_RATIO))
    return boundaries


# ----------------------------------------------------------------------------- helpers


def _boundaries(given: Sequence[int] | None, sequence_length: int | None) -> list[int]:
    if given is None:
        return default_bucket_boundaries(sequence_length)
    boundaries = list(given)
    if not all(
        isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 1 for b in boundaries
    ) or boundaries != sorted(set(boundaries)):
        raise ConfigError(
            "expected bucket_boundaries to be strictly increasing positive "
            f"integers. Received: bucket_boundaries={given!r}"
        )
    return [int(b) for b in boundaries]


def _with_cardinality(ds: tf.data.Dataset, n_batches: int) -> tf.data.Dataset:
    # assert_cardinality also fails loudly should the count ever be wrong.
    return ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(tf.data.AUTOTUNE)


def _trim_padding(ids: tf.Tensor) -> tf.Tensor:
    # Padding is only at the end and every real id is >= 1 (1 = OOV), so the count of
    # non-zero ids is the length. One id stays, so no batch has zero time steps.
    length = tf.maximum(tf.math.count_nonzero(ids, dtype=tf.int32), 1)
    return ids[:length]


def _augmenter(token_dropout: float, swap_rate: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    def augment(ids: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
        if token_dropout > 0:
            u = tf.random.stateless_uniform(tf.shape(ids), seed=seeds[:2])
            # The token with the largest draw always stays: a text never becomes empty.
            ids = tf.boolean_mask(ids, (u >= token_dropout) | (u >= tf.reduce_max(u)))
        if swap_rate > 0:
            n = tf.shape(ids)[0]
            u = tf.random.stateless_uniform([n], seed=seeds[2:])
            wanted = (u < swap_rate) & (tf.range(n) < n - 1)
            # A swap at i is skipped when i - 1 also wanted one, so swaps never overlap.
            start = wanted & ~tf.concat([[False], wanted[:-1]], 0)
            s = tf.cast(start, tf.int32)
            ids = tf.gather(ids, tf.range(n) + s - tf.concat([[0], s[:-1]], 0))
        return ids

    return augment
