"""HTML tags in texts (IMDB's `<br />`): `strip_html`, and `HTML_TAG_PATTERN`, which `standardize_text` shares."""

from __future__ import annotations

import re

__all__ = ["HTML_TAG_PATTERN", "strip_html"]


# An HTML tag: `<`, a letter (so "a < b" and "<3" survive), anything but brackets, `>`.
# Written for both Python's `re` and TensorFlow's RE2, which the tf.data step uses.
HTML_TAG_PATTERN = r"</?[A-Za-z][^<>]*>"
_HTML_TAG_RE = re.compile(HTML_TAG_PATTERN)


def strip_html(text: str) -> str:
    """Replaces each HTML tag (IMDB's `<br />`, `<i>`) by a space.

    Args:
        text: One text.

    Returns:
        The text without tags; a space keeps the words on either side apart.

    Example:
        >>> strip_html("Great.<br /><br />A <i>must</i> see, 5 < 7 <3")
        'Great.  A  must  see, 5 < 7 <3'
    """
    return _HTML_TAG_RE.sub(" ", text)
