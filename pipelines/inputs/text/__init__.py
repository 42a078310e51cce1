"""Readers of binary sentiment data: IMDB, MR (sentence polarity) and the user's own texts.

Every reader returns a `TextData` whose texts and labels passed one check
(`check_texts_and_labels`): every text is a non-empty `str`, there is one label per
text, each label is 0/1 (or one of two given class names), and both classes occur.
Problems raise `DataValidationError` naming the file, line or index and the fix.

- `load_imdb`: Maas et al. 2011, 25k train / 25k test reviews. The CSV files of the
  manifest (checksums verified), else an `aclImdb/` folder, else (online only)
  `tensorflow_datasets`' `imdb_reviews`; `info["resolved_by"]` says which.
- `load_mr`: Pang & Lee 2005 sentence polarity, 5,331 + 5,331 snippets, Latin-1. It has
  no standard split (`texts_test` is `None`): evaluate with stratified 10-fold CV.
- `load_custom`, `load_csv`: the user's texts and labels.

IMDB reviews contain HTML line breaks (`<br />`); `strip_html` (and the same
`HTML_TAG_PATTERN` in the tf.data step) replaces tags by a space.

Every name is importable from here; each lives in a module of its own:

- `imdb`: `load_imdb` and its three sources.
- `mr`: `load_mr`.
- `custom`: `load_custom` and `load_csv`.
- `checks`: `check_texts_and_labels` and `check_texts`, shared by every reader.
- `data`: `TextData`, what every reader returns.
- `markup`: `strip_html` and `HTML_TAG_PATTERN`.
- `decoding`: bytes of a file into text or a table, with messages naming the byte.

Example:
    >>> data = load_custom(["a fine film", "dull"], [1, 0])
    >>> data.y_train.tolist(), data.class_names, data.texts_test is None
    ([1, 0], ['negative', 'positive'], True)
"""

from __future__ import annotations

from pipelines.inputs.text.checks import MAX_SHOWN as MAX_SHOWN
from pipelines.inputs.text.checks import check_texts, check_texts_and_labels
from pipelines.inputs.text.custom import load_csv, load_custom
from pipelines.inputs.text.data import TEXT_CLASS_NAMES, TextData
from pipelines.inputs.text.imdb import IMDB_FILES, load_imdb
from pipelines.inputs.text.imdb import IMDB_TFDS_NAME as IMDB_TFDS_NAME
from pipelines.inputs.text.markup import HTML_TAG_PATTERN, strip_html
from pipelines.inputs.text.mr import MR_ENCODING as MR_ENCODING
from pipelines.inputs.text.mr import MR_FILES, load_mr

__all__ = [
    "HTML_TAG_PATTERN",
    "IMDB_FILES",
    "MR_FILES",
    "TEXT_CLASS_NAMES",
    "TextData",
    "check_texts",
    "check_texts_and_labels",
    "load_csv",
    "load_custom",
    "load_imdb",
    "load_mr",
    "strip_html",
]
