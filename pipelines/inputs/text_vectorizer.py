"""The vectorizer of the text input step: texts to integer token ids, adapted on training texts.

`make_vectorizer` adapts a `TextVectorization` layer on the training texts only, so
validation and test words the training split never saw map to the OOV id 1 (0 is
padding). Its default standardization, `standardize_text`, and the head+tail cut of
long texts, `HeadTailTextVectorization`, are registered with Keras (`"pipelines>..."`),
so a model holding them saves and reloads with `safe_mode=True` once this module is
imported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.text import HTML_TAG_PATTERN, check_texts

__all__ = [
    "HeadTailTextVectorization",
    "head_tokens_for",
    "make_vectorizer",
    "standardize_text",
    "words_per_text",
]


# Texts per TextVectorization call: one call per text would cost ~100x more overhead.
VECTORIZE_BATCH_SIZE = 1024
# Apostrophes join their word ("don't" -> "dont"); other punctuation and symbols split.
_APOSTROPHE_PATTERN = "['`\u2019]"
_PUNCTUATION_PATTERN = r"[\p{P}\p{S}]+"
# Control characters and Unicode separators (IMDB has U+0085, NEL) become spaces: a token
# holding one would not survive saving, since Keras reads a saved vocabulary back with
# str.splitlines(), which breaks at them (keras-team/keras#22119), and the model fails to load.
_CONTROL_PATTERN = r"[\p{Cc}\p{Z}]+"


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


def words_per_text(
    texts: Sequence[str] | np.ndarray, standardize: Callable[[tf.Tensor], tf.Tensor] = standardize_text
) -> np.ndarray:
    """How many words each text has after `standardize` (whitespace-split), as int64 `(n,)`.

    Example:
        >>> words_per_text(["Great film!", "?!", "<br />"]).tolist()
        [2, 0, 0]
    """
    counts = [
        tf.strings.split(standardize(tf.constant(list(texts[i : i + VECTORIZE_BATCH_SIZE]), tf.string)))
        .row_lengths()
        .numpy()
        for i in range(0, len(texts), VECTORIZE_BATCH_SIZE)
    ]
    return np.concatenate(counts).astype(np.int64) if counts else np.zeros(0, np.int64)


def check_has_words(texts: Sequence[str] | np.ndarray, where: str = "the training texts") -> None:
    """Refuses texts of which none has a word once standardized: there is no vocabulary to learn.

    Raises:
        DataValidationError: Naming how many texts there are and what standardization removes.
    """
    if len(texts) and not words_per_text(texts).any():
        raise DataValidationError(
            f"expected words in {where}. Received {len(texts)} texts, none with a word once lowercased and "
            f"stripped of HTML tags, punctuation and symbols (e.g. {str(texts[0])[:40]!r}). Pass texts with words."
        )


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
        DataValidationError: if a text is not a non-empty `str`, or no text has a word.

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
    if standardize is standardize_text:  # no word at all: adapt() leaves the lookup table empty
        check_has_words(texts)
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


# ----------------------------------------------------------------------------- helpers


def _check_int(name: str, value: Any, minimum: int, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"expected {name} to be an integer >= {minimum} ({meaning}). Received: {name}={value!r}")
