"""Checking a dataset file's content against the sha256 of its manifest entry.

The manifest holds the sha256 of a file's *decompressed* content, so a re-gzipped copy
passes. A file that fails its check, or whose gzip stream is truncated or corrupt, raises
`ChecksumMismatch` naming the file, the expected and the actual checksum, and the fix.
`verify_file` streams a file; `read_verified` reads it (decompressing a gzip entry once)
and returns the checked content. Neither reads past the content size the manifest gives:
a file that holds more (a gzip bomb put where a dataset file belongs inflates to gigabytes)
is refused as soon as it does, with memory bounded by that size.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

from pipelines.errors import ChecksumMismatch
from pipelines.inputs.manifest import FileEntry

__all__ = ["read_verified", "verify_file"]

_CHUNK_BYTES = 1 << 20
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def verify_file(path: str | os.PathLike, entry: FileEntry) -> str:
    """Checks a file's content against its manifest entry, streaming.

    Args:
        path: The file.
        entry: Its manifest entry. A gzip entry's file is decompressed first.

    Returns:
        The sha256 (hex) of the decompressed content.

    Raises:
        ChecksumMismatch: if the checksum differs or the gzip stream is truncated or
            corrupt; the message names the file, the expected and the actual checksum.
        FileNotFoundError: if the file does not exist.

    Example:
        >>> import hashlib, pathlib, tempfile
        >>> from pipelines.inputs.manifest import FileEntry
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_bytes(b"hi")
        >>> digest = hashlib.sha256(b"hi").hexdigest()
        >>> verify_file(p, FileEntry("a.txt", digest, 2)) == digest
        True
    """
    return _check_file(Path(path), entry, str(path))


def read_verified(path: str | os.PathLike, entry: FileEntry) -> bytes:
    """Reads a file's content (decompressing a gzip entry once) and checks it.

    Args:
        path: The file.
        entry: Its manifest entry.

    Returns:
        The (decompressed) content, whose sha256 matches the manifest.

    Raises:
        ChecksumMismatch: if the checksum differs or the gzip stream is corrupt.
        FileNotFoundError: if the file does not exist.

    Example:
        >>> import gzip, hashlib, pathlib, tempfile
        >>> from pipelines.inputs.manifest import FileEntry
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.gz"
        >>> _ = p.write_bytes(gzip.compress(b"hi"))
        >>> read_verified(p, FileEntry("a.gz", hashlib.sha256(b"hi").hexdigest(), 2, "gzip"))
        b'hi'
    """
    path = Path(path)
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if entry.is_gzip else raw
        try:
            data = stream.read(entry.size + 1)  # one byte past the manifest's size is enough to refuse
        except _GZIP_ERRORS as err:
            raise ChecksumMismatch(_corrupt_message(str(path), entry, err, _file_sha(path))) from err
    if len(data) > entry.size:
        raise ChecksumMismatch(_oversize_message(str(path), entry))
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ChecksumMismatch(_mismatch_message(str(path), entry, digest, len(data)))
    return data


# ----------------------------------------------------------------------------- checks


def _check_file(path: Path, entry: FileEntry, label: str) -> str:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if entry.is_gzip else raw
        try:
            while chunk := stream.read(_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                if size > entry.size:
                    raise ChecksumMismatch(_oversize_message(label, entry))
        except _GZIP_ERRORS as err:
            raise ChecksumMismatch(_corrupt_message(label, entry, err, _file_sha(path))) from err
    if digest.hexdigest() != entry.sha256:
        raise ChecksumMismatch(_mismatch_message(label, entry, digest.hexdigest(), size))
    return digest.hexdigest()


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _oversize_message(label: str, entry: FileEntry) -> str:
    return (
        f"{label} holds more than the {entry.size} bytes of {_content(entry)} its manifest entry "
        f"gives (expected sha256 {entry.sha256}), so reading stopped there: the file is corrupt, a "
        "different version, or a decompression bomb. Replace it with a good copy, or delete it so "
        "that it is downloaded again."
    )


def _content(entry: FileEntry) -> str:
    return "decompressed content" if entry.is_gzip else "content"


def _mismatch_message(label: str, entry: FileEntry, actual: str, size: int) -> str:
    return (
        f"{label} does not match the manifest: expected sha256 {entry.sha256} "
        f"({entry.size} bytes) of its {_content(entry)}, got sha256 {actual} ({size} "
        "bytes). The file is corrupt or a different version: replace it with a good "
        "copy, or delete it so that it is downloaded again."
    )


def _corrupt_message(label: str, entry: FileEntry, err: Exception, raw_sha: str) -> str:
    return (
        f"{label} is not a complete gzip file ({type(err).__name__}: {err}), so its "
        f"content cannot be checked: expected sha256 {entry.sha256} of its decompressed "
        f"content ({entry.size} bytes), got no content (the file's own sha256 is "
        f"{raw_sha}). The file is truncated or corrupt: replace it with a good copy, or "
        "delete it so that it is downloaded again."
    )
