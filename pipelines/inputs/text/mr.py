"""`load_mr`: the MR sentence polarity dataset (Pang & Lee 2005), 5,331 + 5,331 snippets.

The files are Latin-1 (not valid UTF-8) and have no standard split: `texts_test` is
`None`, so evaluate with stratified 10-fold cross-validation.
"""

from __future__ import annotations

import os

from pipelines.errors import DataValidationError
from pipelines.inputs.manifest import get_dataset_entry
from pipelines.inputs.sources import read_verified, resolve_dataset
from pipelines.inputs.text.checks import _counts, _shown, check_texts_and_labels
from pipelines.inputs.text.data import TextData
from pipelines.inputs.text.decoding import _check_encoding, _decode

__all__ = ["MR_ENCODING", "MR_FILES", "load_mr"]


# label -> file of the manifest's `sentiment_mr` dataset.
MR_FILES = {0: "rt-polarity.neg", 1: "rt-polarity.pos"}
MR_ENCODING = "latin-1"


def load_mr(
    data_dir: str | os.PathLike | None = None,
    *,
    encoding: str = MR_ENCODING,
    download: bool = True,
) -> TextData:
    """Loads MR, the sentence polarity dataset v1.0 (Pang & Lee 2005; Kim 2014's "MR").

    `rt-polarity.neg` and `rt-polarity.pos` hold one lowercased, tokenized snippet per
    line (5,331 each), in Windows-1252/Latin-1: they are not valid UTF-8. The files are
    found by `resolve_dataset("sentiment_mr", ...)` and checked against the manifest.
    There is no standard test split, so `texts_test` is `None`: use stratified 10-fold
    cross-validation (`info["evaluation"]`).

    Args:
        data_dir: The folder holding both files, or a root holding `sentiment/`.
            Defaults to `None` (environment, cache, then download).
        encoding: How to decode the bytes. `"latin-1"` maps every byte to a character;
            `"cp1252"` turns the files' 0x85/0x91/0x92/0x96/0x97 into the intended
            ellipsis, quotes and dashes. Defaults to `"latin-1"`.
        download: Whether missing files may be downloaded into the cache. Defaults to
            `True`.

    Returns:
        A `TextData` with negatives (label 0) then positives (label 1) in `texts_train`.

    Raises:
        DatasetUnavailable: if the files are not found and cannot be downloaded.
        ChecksumMismatch: if a file does not match the manifest.
        DataValidationError: if a file cannot be decoded with `encoding` (naming the
            file and line) or has an empty line.

    Example:
        >>> import tempfile
        >>> try:
        ...     load_mr(tempfile.mkdtemp())
        ... except FileNotFoundError as err:
        ...     print("rt-polarity.pos" in str(err))
        True
    """
    _check_encoding(encoding)
    resolved = resolve_dataset("sentiment_mr", data_dir, download=download, verify=False)
    entry = get_dataset_entry("sentiment_mr")
    texts: list[str] = []
    labels: list[int] = []
    for label, file_name in MR_FILES.items():
        path = resolved.files[file_name]
        lines = _split_lines(_decode(read_verified(path, entry.file(file_name)), encoding, str(path)))
        blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if blank:
            raise DataValidationError(
                f"expected one non-empty snippet per line in {path}. Received "
                f"{len(blank)} empty or whitespace-only lines, at line {_shown(blank)}. "
                "Delete those lines (or replace the file with a good copy)."
            )
        texts += lines
        labels += [label] * len(lines)
    x, y, class_names = check_texts_and_labels(texts, labels, where="MR")
    info = {
        "name": "mr",
        "source": str(resolved.directory),
        "splits": {"train": len(y)},
        "class_counts": {"train": _counts(y)},
        "checksum_verified": True,
        "resolved_by": resolved.source,
        "files": {name: str(path) for name, path in resolved.files.items()},
        "encoding": encoding,
        "evaluation": "no standard split: use stratified 10-fold cross-validation",
    }
    return TextData(x, y, None, None, class_names=class_names, info=info)


def _split_lines(text: str) -> list[str]:
    # Only "\n" ends a line: str.splitlines() would also split at U+0085, which is how
    # Latin-1 decodes the byte 0x85 (an ellipsis in cp1252) found inside MR snippets.
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines
