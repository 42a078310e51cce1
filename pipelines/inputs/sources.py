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

The checks are `pipelines.inputs.checksums`' (`verify_file` and `read_verified`, also
importable from here) and the downloads `pipelines.inputs.downloads`'.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from pipelines.errors import DatasetUnavailable
from pipelines.inputs.checksums import _content, read_verified, verify_file
from pipelines.inputs.downloads import DOWNLOAD_TIMEOUT_S as DOWNLOAD_TIMEOUT_S
from pipelines.inputs.downloads import _download_files, _DownloadFailed
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


# -------------------------------------------------------------------------- downloads


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
