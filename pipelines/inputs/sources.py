"""Finding a dataset's files on disk, downloading them if need be, and checking them.

`resolve_dataset` looks for a dataset's files in this order and stops at the first
folder that holds all of them:

1. `argument`: the `data_dir` argument, either the dataset's own folder or a root
   holding `<subdir>/` (never falls through: what you point at must be complete);
2. `env`: `$PIPELINES_DATA_DIR/<subdir>/`;
3. `cache`: `$PIPELINES_CACHE_DIR/<subdir>/`, by default the `data/` folder of a source
   checkout or else `~/.cache/keras-pipelines/`;
4. `system`: folders where an OS package installs the dataset (the manifest's
   `system_dirs`, e.g. Debian's /usr/share/datasets/fashion-mnist/);
5. `download`: each missing file is fetched from its manifest URLs into the cache
   (unless `download=False` or `PIPELINES_OFFLINE=1`), checked, then renamed into place.

Checks compare the sha256 of a file's *decompressed* content with the manifest, so a
re-gzipped copy passes. A file that is found but fails its check raises
`ChecksumMismatch`; the search never moves on past bad data.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from pipelines.atomic import atomic_path
from pipelines.errors import ChecksumMismatch, DatasetUnavailable
from pipelines.inputs.manifest import (
    DatasetEntry,
    FileEntry,
    Manifest,
    get_dataset_entry,
)

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "OFFLINE_ENV",
    "ResolvedDataset",
    "default_cache_dir",
    "is_offline",
    "read_verified",
    "resolve_dataset",
    "verify_file",
]

DATA_DIR_ENV = "PIPELINES_DATA_DIR"
CACHE_DIR_ENV = "PIPELINES_CACHE_DIR"
OFFLINE_ENV = "PIPELINES_OFFLINE"
DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK_BYTES = 1 << 20
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)
_NETWORK_ERRORS = (OSError, http.client.HTTPException, tarfile.TarError, KeyError)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ResolvedDataset:
    """Where a dataset's files were found.

    Attributes:
        name: The dataset's name.
        directory: The folder that holds all its files.
        files: File name to path, in manifest order.
        source: The rule that found it: "argument", "env", "cache", "system" or
            "download".
        checksum_verified: Whether every file's content was checked against the manifest.
    """

    name: str
    directory: Path
    files: dict[str, Path]
    source: str
    checksum_verified: bool


def resolve_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    manifest: Manifest | None = None,
) -> ResolvedDataset:
    """Finds (or downloads) a dataset's files; see the module docstring for the order.

    Args:
        name: A dataset of the manifest, e.g. `"mnist"`.
        data_dir: A folder holding the files, or a root holding `<subdir>/`. When given,
            no other place is searched. Defaults to `None`.
        download: Whether to download missing files into the cache. The environment
            variable `PIPELINES_OFFLINE=1` also turns it off. Defaults to `True`.
        verify: Whether to check every found file's content now. Pass `False` when
            you will read each file with `read_verified`, which checks it as it reads
            (so a file is decompressed once). Downloads are always checked. Defaults to
            `True`.
        manifest: The manifest to use. Defaults to the package's manifest.

    Returns:
        A `ResolvedDataset`.

    Raises:
        UnknownDatasetError: if `name` is not in the manifest.
        DatasetUnavailable: if the files are not found and cannot be downloaded; the
            message names each file, its sha256 and the folder to put it in.
        ChecksumMismatch: if a found or downloaded file does not match the manifest.

    Example:
        >>> import tempfile
        >>> try:  # an empty data_dir: nothing else is searched, nothing downloaded
        ...     resolve_dataset("imdb", tempfile.mkdtemp())
        ... except FileNotFoundError as err:
        ...     print("train.csv.gz" in str(err))
        True
    """
    entry = get_dataset_entry(name, manifest)
    if data_dir is not None:
        directory = _search_argument(entry, Path(data_dir).expanduser())
        return _verified(entry, directory, "argument", verify)

    looked = ["data_dir argument: not given"]
    env_root = os.environ.get(DATA_DIR_ENV, "").strip()
    if env_root:
        directory = Path(env_root).expanduser() / entry.subdir
        present = _present(entry, directory)
        if len(present) == len(entry.files):
            return _verified(entry, directory, "env", verify)
        if present:  # a half-filled folder the user pointed at is an error, not a miss
            raise DatasetUnavailable(
                _unavailable_message(
                    entry,
                    directory,
                    [f"${DATA_DIR_ENV}/{entry.subdir}: {directory} ({_describe(entry, present)})"],
                    f"{DATA_DIR_ENV} has an incomplete copy",
                    present,
                )
            )
        looked.append(f"${DATA_DIR_ENV}/{entry.subdir}: {directory} (not found)")
    else:
        looked.append(f"${DATA_DIR_ENV}: not set")

    cache = default_cache_dir() / entry.subdir
    cached = _present(entry, cache)
    if len(cached) == len(entry.files):
        return _verified(entry, cache, "cache", verify)
    looked.append(f"cache: {cache} ({_describe(entry, cached)})")

    for directory in entry.system_dirs:
        present = _present(entry, directory)
        if len(present) == len(entry.files):
            return _verified(entry, directory, "system", verify)
        looked.append(f"system: {directory} ({_describe(entry, present)})")

    missing = [f for f in entry.files if f.name not in cached]
    reason = _download_blocker(download, missing)
    if reason is not None:
        raise DatasetUnavailable(
            _unavailable_message(
                entry, cache, looked, reason, cached, hint=_download_hint() if all(f.urls for f in missing) else ""
            )
        )
    try:
        _download_files(missing, cache)
    except _DownloadFailed as err:
        raise DatasetUnavailable(
            _unavailable_message(
                entry,
                cache,
                looked,
                f"the download failed: {err}",
                cached,
                hint="Or retry the download once the URLs are reachable.",
            )
        ) from err
    for file_name in cached if verify else ():
        verify_file(cache / file_name, entry.file(file_name))
    return ResolvedDataset(
        name=entry.name,
        directory=cache,
        files=_paths(entry, cache),
        source="download",
        checksum_verified=verify or not cached,
    )


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
    raw = Path(path).read_bytes()
    data = raw
    if entry.is_gzip:
        try:
            data = gzip.decompress(raw)
        except _GZIP_ERRORS as err:
            raise ChecksumMismatch(_corrupt_message(str(path), entry, err, hashlib.sha256(raw).hexdigest())) from err
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ChecksumMismatch(_mismatch_message(str(path), entry, digest, len(data)))
    return data


def default_cache_dir() -> Path:
    """Returns the download cache's root folder (each dataset in its `subdir`).

    `$PIPELINES_CACHE_DIR` if set; else the `data/` folder of a source checkout (a
    `data/` folder beside `setup.cfg` above the package); else
    `$XDG_CACHE_HOME/keras-pipelines`, by default `~/.cache/keras-pipelines`.
    """
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    checkout_data = _checkout_data_dir(Path(__file__).resolve().parents[2])
    if checkout_data is not None:
        return checkout_data
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "keras-pipelines"


def is_offline() -> bool:
    """Whether `PIPELINES_OFFLINE` is set to a true value (1, true, yes, on)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# ----------------------------------------------------------------------------- search


def _checkout_data_dir(root: Path) -> Path | None:
    data = root / "data"
    return data if data.is_dir() and (root / "setup.cfg").is_file() else None


def _present(entry: DatasetEntry, directory: Path) -> list[str]:
    return [f.name for f in entry.files if (directory / f.name).is_file()]


def _paths(entry: DatasetEntry, directory: Path) -> dict[str, Path]:
    return {f.name: directory / f.name for f in entry.files}


def _describe(entry: DatasetEntry, present: list[str]) -> str:
    if not present:
        return "not found"
    missing = [f.name for f in entry.files if f.name not in present]
    return f"incomplete, missing {', '.join(missing)}"


def _search_argument(entry: DatasetEntry, root: Path) -> Path:
    """The dataset's folder given `data_dir`: the folder itself or `root/<subdir tail>`."""
    parts = entry.subdir.split("/")
    candidates = [root] + [root.joinpath(*parts[-k:]) for k in range(1, len(parts) + 1)]
    found = {c: _present(entry, c) for c in dict.fromkeys(candidates)}
    for directory, present in found.items():
        if len(present) == len(entry.files):
            return directory
    best = max(found, key=lambda c: len(found[c]))
    looked = [f"data_dir argument: {c} ({_describe(entry, p)})" for c, p in found.items()]
    raise DatasetUnavailable(
        _unavailable_message(
            entry,
            best if found[best] else root,
            looked,
            "the data_dir argument does not hold all of its files (no other place is searched when data_dir is given)",
            found[best],
            hint="Or leave data_dir unset, so that the environment, the cache, the system "
            "folders and the download are tried.",
        )
    )


def _verified(entry: DatasetEntry, directory: Path, source: str, verify: bool) -> ResolvedDataset:
    files = _paths(entry, directory)
    for file_entry in entry.files if verify else ():
        verify_file(files[file_entry.name], file_entry)
    return ResolvedDataset(name=entry.name, directory=directory, files=files, source=source, checksum_verified=verify)


# ----------------------------------------------------------------------------- checks


def _check_file(path: Path, entry: FileEntry, label: str) -> str:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if entry.is_gzip else raw
        try:
            while chunk := stream.read(_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
        except _GZIP_ERRORS as err:
            raw_sha = hashlib.sha256(path.read_bytes()).hexdigest()
            raise ChecksumMismatch(_corrupt_message(label, entry, err, raw_sha)) from err
    if digest.hexdigest() != entry.sha256:
        raise ChecksumMismatch(_mismatch_message(label, entry, digest.hexdigest(), size))
    return digest.hexdigest()


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


# -------------------------------------------------------------------------- downloads


class _DownloadFailed(Exception):
    """Every URL of a file failed for a network or archive reason."""


def _download_blocker(download: bool, missing: list[FileEntry]) -> str | None:
    if not download:
        return "it was not found and download=False"
    if is_offline():
        return f"it was not found and {OFFLINE_ENV}={os.environ[OFFLINE_ENV]} is set"
    no_url = [f.name for f in missing if not f.urls]
    if no_url:
        return f"it was not found and there is no download URL for {', '.join(no_url)}"
    return None


def _download_hint() -> str:
    return (
        f"Or allow the download into {default_cache_dir()} (download=True, "
        f"{OFFLINE_ENV} unset; {CACHE_DIR_ENV} moves the cache)."
    )


def _download_files(files: list[FileEntry], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=directory) as scratch:
        archives: dict[str, Path] = {}  # url -> fetched archive, shared by its members
        for entry in files:
            _download_file(entry, directory / entry.name, archives, Path(scratch))


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
                    _extract_member(archives[url], entry.archive_member, part)
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


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    # Reads one named member into `dest`; nothing is extracted under archive names.
    with tarfile.open(archive, "r:*") as tar:
        info = tar.getmember(member)
        source = tar.extractfile(info) if info.isfile() else None
        if source is None:
            raise tarfile.TarError(f"archive member {member!r} is not a regular file")
        with source, open(dest, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK_BYTES)


def _unavailable_message(
    entry: DatasetEntry, directory: Path, looked: list[str], reason: str, present: Sequence[str] = (), hint: str = ""
) -> str:
    needed = [f for f in entry.files if f.name not in present]
    lines = [f"Dataset {entry.name!r} ({entry.title}) is not available: {reason}.", "Looked in, in order:"]
    lines += [f"  - {place}" for place in looked]
    lines.append(
        f"To fix, put these files in {directory}/ (or under <root>/{entry.subdir}/ "
        f"with {DATA_DIR_ENV}=<root>, or pass data_dir=<folder>):"
    )
    for f in needed:
        source = f"from {', '.join(f.urls)}" if f.urls else "no download URL: place it by hand"
        if f.archive_member:
            source += f" (member {f.archive_member} of that archive)"
        lines.append(f"  - {f.name}: sha256 {f.sha256} of its {_content(f)} ({f.size} bytes); {source}")
    if hint:
        lines.append(hint)
    if entry.notes:
        lines.append(f"Note: {entry.notes}")
    if entry.homepage:
        lines.append(f"Home page: {entry.homepage}")
    return "\n".join(lines)
