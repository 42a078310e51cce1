"""Downloading a dataset's missing files from their manifest URLs into its folder.

Each file is tried at each of its URLs in turn. It is fetched (or read as one member of
a tar archive, fetched once for all its members) under a temporary name, checked against
the manifest, then renamed into place, so the folder never holds a file that would fail
its check. A checksum mismatch raises `ChecksumMismatch`; network and archive errors at
every URL raise `_DownloadFailed`, which `resolve_dataset` turns into
`DatasetUnavailable`.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import logging
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from pipelines.atomic import atomic_path
from pipelines.errors import ChecksumMismatch
from pipelines.inputs.checksums import _CHUNK_BYTES, _check_file
from pipelines.inputs.manifest import FileEntry

# The download functions are private: `pipelines.inputs.sources.resolve_dataset` calls them.
__all__ = ["DOWNLOAD_TIMEOUT_S"]

DOWNLOAD_TIMEOUT_S = 30.0
_NETWORK_ERRORS = (OSError, http.client.HTTPException, tarfile.TarError, KeyError)

logger = logging.getLogger(__name__)


class _DownloadFailed(Exception):
    """Every URL of a file failed for a network or archive reason."""


def _download_files(files: list[FileEntry], directory: Path) -> None:
    created = [folder for folder in (directory, *directory.parents) if not folder.exists()]  # nearest first
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".download-", dir=directory) as scratch:
            archives: dict[str, Path] = {}  # url -> fetched archive, shared by its members
            for entry in files:
                _download_file(entry, directory / entry.name, archives, Path(scratch))
    except BaseException:
        # A failed download leaves no empty cache folder behind; one that holds a file stays.
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _download_file(entry: FileEntry, dest: Path, archives: dict[str, Path], scratch: Path) -> None:
    failures, mismatches = [], []
    for url in entry.urls:
        label = f"{url} (downloaded as {entry.name})"
        try:
            # The content is checked under a temporary name, so the cache never holds
            # a file that would fail its check.
            with atomic_path(dest) as part:
                if entry.archive_member is None:
                    _fetch(url, part)
                else:
                    if url not in archives:
                        archive = scratch / f"archive-{len(archives)}.tar.gz"
                        _fetch(url, archive)
                        archives[url] = archive  # only once fully fetched
                    # A plain member of a gzip entry (CIFAR-10's .bin files in their .tar.gz) is
                    # gzip'd as it is extracted, so the cache holds what the manifest names.
                    gzip_it = entry.is_gzip and not entry.archive_member.endswith(".gz")
                    _extract_member(archives[url], entry.archive_member, part, gzip_it=gzip_it)
                _check_file(part, entry, label)
            return
        except ChecksumMismatch as err:
            mismatches.append(str(err))
        except _NETWORK_ERRORS as err:
            failures.append(f"{url}: {type(err).__name__}: {err}")
    if mismatches:
        raise ChecksumMismatch(" ".join(mismatches + failures))
    raise _DownloadFailed("; ".join(failures))


def _fetch(url: str, dest: Path) -> None:
    logger.info("Downloading %s to %s", url, dest)
    request = urllib.request.Request(url, headers={"User-Agent": "keras-pipelines"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, _CHUNK_BYTES)


def _extract_member(archive: Path, member: str, dest: Path, *, gzip_it: bool = False) -> None:
    # Reads one named member into `dest`; nothing is extracted under archive names.
    with tarfile.open(archive, "r:*") as tar:
        info = tar.getmember(member)
        source = tar.extractfile(info) if info.isfile() else None
        if source is None:
            raise tarfile.TarError(f"archive member {member!r} is not a regular file")
        with source, open(dest, "wb") as raw:
            if not gzip_it:
                shutil.copyfileobj(source, raw, _CHUNK_BYTES)
                return
            # mtime=0: the same member gives the same bytes on every download.
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                shutil.copyfileobj(source, out, _CHUNK_BYTES)
