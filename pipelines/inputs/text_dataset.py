"""The tf.data input step for text classifiers: vectorize, trim, cache, shuffle, augment, bucket.

`make_vectorizer` adapts a `TextVectorization` layer on the training texts only, so
validation and test words the training split never saw map to the OOV id 1 (0 is
padding). `make_text_dataset` vectorizes inside `tf.data.map`, outside the model, so an
XLA-compiled model never sees strings. Each example's padding is cut off and the ids
are cached; training examples are then shuffled, optionally augmented (fresh each
epoch, after the cache) and batched with others of similar length, so a batch is padded
only to its longest member rather than to `sequence_length`.

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
from pipelines.errors import ConfigError
from pipelines.inputs.text import HTML_TAG_PATTERN, check_texts, check_texts_and_labels

__all__ = [
    "HeadTailTextVectorization",
    "TextAugmentConfig",
    "default_bucket_boundaries",
    "head_tokens_for",
    "make_text_dataset",
    "make_vectorizer",
    "standardize_text",
]

# Texts per TextVectorization call: one call per text would cost ~100x more overhead.
VECTORIZE_BATCH_SIZE = 1024
# Bucket widths grow by this factor, so a batch carries at most ~25 % padding.
BUCKET_RATIO = 1.25
BUCKET_START = 8
# Apostrophes join their word ("don't" -> "dont"); other punctuation and symbols split.
_APOSTROPHE_PATTERN = "['`\u2019]"
_PUNCTUATION_PATTERN = r"[\p{P}\p{S}]+"
# Control characters and Unicode separators (IMDB has U+0085, NEL) become spaces: a token
# holding one would not survive saving, since Keras reads a saved vocabulary back with
# str.splitlines(), which breaks at them (keras-team/keras#22119), and the model fails to load.
_CONTROL_PATTERN = r"[\p{Cc}\p{Z}]+"


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


@keras.saving.register_keras_serializable(package="pipelines", name="standardize_text")
def standardize_text(texts: tf.Tensor) -> tf.Tensor:
    """Lowercases, replaces HTML tags (IMDB's `<br />`), punctuation and control characters by spaces.

    Apostrophes are deleted instead, so "don't" stays one token ("dont"). Only
    TensorFlow string ops are used, and the function is registered with Keras
    (`"pipelines>standardize_text"`), so a model holding a `TextVectorization` that
    uses it saves and reloads with `safe_mode=True` once this module is imported.

    Args:
        texts: A string tensor of any shape.

    Returns:
        The standardized strings, same shape.

    Example:
        >>> out = standardize_text(tf.constant(["It's GREAT!<br /><br />Really."]))
        >>> out.numpy()[0].decode().split()
        ['its', 'great', 'really']
    """
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, HTML_TAG_PATTERN, " ")
    texts = tf.strings.regex_replace(texts, _APOSTROPHE_PATTERN, "")
    texts = tf.strings.regex_replace(texts, _CONTROL_PATTERN, " ")
    return tf.strings.regex_replace(texts, _PUNCTUATION_PATTERN, " ")


@keras.saving.register_keras_serializable(package="pipelines", name="HeadTailTextVectorization")
class HeadTailTextVectorization(keras.layers.TextVectorization):
    """A `TextVectorization` that cuts a long text to its first and last tokens.

    A text of more than `output_sequence_length` ids keeps its first `head_tokens` ids
    and its last `output_sequence_length - head_tokens`; shorter texts are padded with 0
    as usual. Reviews often give their verdict at the end, which the usual cut (the first
    `output_sequence_length` ids) throws away: Sun et al. (2019, "How to fine-tune BERT
    for text classification?") found head+tail the best cut for IMDB. Integer output
    only. Everything else, including `adapt`, is `TextVectorization`'s.

    Args:
        head_tokens: Ids kept from the start of a long text, `0 <= head_tokens <=
            output_sequence_length`.
        output_sequence_length: Ids per text.
        **kwargs: Passed to `TextVectorization`.

    Example:
        >>> v = HeadTailTextVectorization(head_tokens=1, output_sequence_length=3,
        ...                               vocabulary=["a", "b", "c", "d"])
        >>> v(["a b c d", "b"]).numpy().tolist()  # a = 2, ..., d = 5
        [[2, 4, 5], [3, 0, 0]]
    """

    def __init__(self, *, head_tokens: int, output_sequence_length: int, **kwargs: Any) -> None:
        _check_int("output_sequence_length", output_sequence_length, 1, "at least one token")
        _check_int("head_tokens", head_tokens, 0, "ids kept from the start of a long text")
        if head_tokens > output_sequence_length:
            raise ConfigError(
                f"expected head_tokens <= output_sequence_length ({output_sequence_length}). "
                f"Received: head_tokens={head_tokens}"
            )
        if kwargs.get("output_mode", "int") != "int" or kwargs.get("ragged"):
            raise ConfigError(
                "HeadTailTextVectorization gives dense integer ids: output_mode='int', "
                f"ragged=False. Received: output_mode={kwargs.get('output_mode')!r}, "
                f"ragged={kwargs.get('ragged')!r}"
            )
        # The parent pads to the longest text of the batch; `call` then picks the ids to keep.
        super().__init__(output_sequence_length=None, **kwargs)
        self.head_tokens = int(head_tokens)
        self.sequence_length = int(output_sequence_length)

    def call(self, inputs: Any) -> tf.Tensor:
        ids = tf.convert_to_tensor(super().call(inputs))
        # Padding (0) only trails, so the non-zero count is each text's length; padding
        # every row by `sequence_length` makes the gather valid for short texts too.
        ids = tf.pad(ids, [[0, 0], [0, self.sequence_length]])
        lengths = tf.math.count_nonzero(ids, axis=1, keepdims=True, dtype=tf.int32)
        positions = tf.range(self.sequence_length)[None, :]
        from_tail = (lengths > self.sequence_length) & (positions >= self.head_tokens)
        keep = tf.where(from_tail, lengths - self.sequence_length + positions, positions)
        out = tf.gather(ids, keep, batch_dims=1)
        out.set_shape([ids.shape[0], self.sequence_length])
        return out

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.sequence_length)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "output_sequence_length": self.sequence_length, "head_tokens": self.head_tokens}


def make_vectorizer(
    texts_train: Sequence[str] | np.ndarray,
    max_tokens: int = 20000,
    sequence_length: int = 200,
    *,
    head_tokens: int | None = None,
    ngrams: int | None = None,
    standardize: str | Callable[[tf.Tensor], tf.Tensor] | None = standardize_text,
) -> keras.layers.TextVectorization:
    """A `TextVectorization` (integer ids) adapted on the training texts only.

    Pass only the training split: a vocabulary that saw validation or test texts leaks
    them into the model.

    Args:
        texts_train: The training texts.
        max_tokens: Vocabulary size, counting padding (0) and OOV (1). Defaults to
            `20000`.
        sequence_length: Ids per text: longer texts are cut (see `head_tokens`), shorter
            ones padded with 0. Defaults to `200`.
        head_tokens: Keep a long text's first `head_tokens` ids and its last
            `sequence_length - head_tokens` (a `HeadTailTextVectorization`). Defaults to
            `None`: its first `sequence_length` ids.
        ngrams: Also emit n-grams up to this width (after the unigrams). Defaults to
            `None` (words only).
        standardize: `standardize_text`, a Keras name such as
            `"lower_and_strip_punctuation"`, another registered callable, or `None`.
            Defaults to `standardize_text`.

    Returns:
        The adapted layer; `vectorizer(["some text"])` gives int64 ids of shape
        `(1, sequence_length)`.

    Raises:
        ConfigError: if `max_tokens`, `sequence_length`, `head_tokens` or `ngrams` is out
            of range.
        DataValidationError: if a text is not a non-empty `str`.

    Example:
        >>> v = make_vectorizer(["good film", "good", "bad film", "film"], max_tokens=5,
        ...                     sequence_length=4)
        >>> [str(token) for token in v.get_vocabulary()]  # by frequency
        ['', '[UNK]', 'film', 'good', 'bad']
        >>> v(["Good, unseen film!"]).numpy().tolist()
        [[3, 1, 2, 0]]
    """
    _check_int("max_tokens", max_tokens, 3, "padding, OOV and one word")
    _check_int("sequence_length", sequence_length, 1, "at least one token")
    if ngrams is not None:
        _check_int("ngrams", ngrams, 1, "1 for words, 2 for words and bigrams")
    options: dict[str, Any] = dict(
        max_tokens=max_tokens,
        standardize=standardize,
        ngrams=ngrams,
        output_mode="int",
        output_sequence_length=sequence_length,
    )
    if head_tokens is None:
        vectorizer = keras.layers.TextVectorization(**options)
    else:
        vectorizer = HeadTailTextVectorization(head_tokens=head_tokens, **options)
    texts = check_texts(texts_train, where="texts_train")
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(VECTORIZE_BATCH_SIZE))
    return vectorizer


def head_tokens_for(sequence_length: int, head_fraction: float) -> int | None:
    """`make_vectorizer`'s `head_tokens` for keeping `head_fraction` of a long text's ids from its start.

    Returns `None` (the first `sequence_length` ids, a plain `TextVectorization`) when the
    fraction rounds to the whole sequence.

    Example:
        >>> head_tokens_for(400, 0.375), head_tokens_for(400, 1.0)
        (150, None)
    """
    head = round(head_fraction * sequence_length)
    return None if head == sequence_length else head


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

    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    # Each example carries its length before augmentation, and buckets use that: bucket
    # sizes, hence the batches per epoch, stay the same every epoch. Keras fixes the
    # steps per epoch after the first one, and would cut a longer epoch short.
    if labels is None:
        ds = ds.map(lambda ids: (ids, tf.shape(ids)[0]))
    else:
        ds = ds.map(lambda ids, y: (ids, tf.shape(ids)[0], y))
    if augment is not None and augment.use_augmentation:
        # Stateless ops seeded from a stream that changes every epoch: fresh
        # augmentation per epoch, yet the same sequence for the same seed.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(4)
        augment_ids = _augmenter(augment.token_dropout, augment.swap_rate)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda element, s: (augment_ids(element[0], s), *element[1:]), num_parallel_calls=tf.data.AUTOTUNE
        )
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


def _check_int(name: str, value: Any, minimum: int, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"expected {name} to be an integer >= {minimum} ({meaning}). Received: {name}={value!r}")


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
