"""The manifest of known dataset files: names, download URLs and checksums.

The manifest ships inside the package as `manifest.json`. Each dataset has a `subdir`
(its folder under a data root such as `$PIPELINES_DATA_DIR`), optional `system_dirs`
(where an OS package installs it) and a list of files. Each file has a `name`, the
`urls` to download exactly these bytes from (or `null`), the `sha256` and `size` of its
*decompressed* content (`decompress: gzip`) or of the file itself (`decompress: none`),
and, for a file that comes inside a .tar.gz, its `archive_member`.

Names from the manifest are joined to local directories, so they are checked here: a
file name is one plain path component, and a `subdir` is made of such components.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pipelines.errors import ConfigError

__all__ = [
    "MANIFEST_PATH",
    "DatasetEntry",
    "FileEntry",
    "Manifest",
    "UnknownDatasetError",
    "default_manifest",
    "get_dataset_entry",
    "load_manifest",
    "parse_manifest",
]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
DECOMPRESS_MODES = ("gzip", "none")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class UnknownDatasetError(ConfigError, LookupError):
    """A dataset name that is not in the manifest (a registry miss)."""

    def __str__(self) -> str:  # LookupError's KeyError cousin would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """One file of a dataset, as listed in the manifest.

    Attributes:
        name: The file name inside the dataset's directory (one path component).
        sha256: Hex sha256 of the decompressed content (gzip) or of the file (none).
        size: Byte count of the content that `sha256` covers.
        decompress: `"gzip"` or `"none"`.
        urls: Where to download exactly this file from, tried in order; empty if none.
        archive_member: If set, each URL is a .tar.gz holding the file under this name.
    """

    name: str
    sha256: str
    size: int
    decompress: str = "none"
    urls: tuple[str, ...] = ()
    archive_member: str | None = None

    @property
    def is_gzip(self) -> bool:
        """Whether the stored file is gzip-compressed."""
        return self.decompress == "gzip"


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """One dataset of the manifest.

    Attributes:
        name: The dataset's name, e.g. `"mnist"`.
        subdir: Its folder under a data root, `/`-separated, e.g. `"sentiment/imdb"`.
        files: Its files, in manifest order.
        title: A one-line description with the citation.
        homepage: The dataset's home page.
        system_dirs: Absolute folders where an OS package installs the files.
        notes: How to obtain the files when there is no download URL, and alternatives.
    """

    name: str
    subdir: str
    files: tuple[FileEntry, ...]
    title: str = ""
    homepage: str = ""
    system_dirs: tuple[Path, ...] = ()
    notes: str = ""

    def file(self, name: str) -> FileEntry:
        """Returns the entry of the file called `name`.

        Raises:
            KeyError: if the dataset has no such file.
        """
        for entry in self.files:
            if entry.name == name:
                return entry
        raise KeyError(f"Dataset {self.name!r} has no file {name!r}. Its files: {[f.name for f in self.files]}")


Manifest = Mapping[str, DatasetEntry]


def parse_manifest(data: Mapping[str, Any]) -> dict[str, DatasetEntry]:
    """Builds and checks the dataset entries from a decoded manifest document.

    Args:
        data: The decoded JSON, `{"datasets": {name: {...}}}`.

    Returns:
        A dict from dataset name to its `DatasetEntry`, in document order.

    Raises:
        ConfigError: if a field is missing or invalid, including a file name or subdir
            that could leave the dataset's directory (`/`, `..`, an absolute path).

    Example:
        >>> m = parse_manifest({"datasets": {"toy": {"subdir": "toy", "files": [
        ...     {"name": "a.txt", "sha256": "0" * 64, "size": 1}]}}})
        >>> m["toy"].files[0].decompress
        'none'
        >>> bad = {"name": "../a.txt", "sha256": "0" * 64, "size": 1}
        >>> parse_manifest({"datasets": {"toy": {"subdir": "toy", "files": [bad]}}})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pipelines.errors.ConfigError: Manifest dataset 'toy': file name must be ...
    """
    datasets = data.get("datasets") if isinstance(data, Mapping) else None
    if not isinstance(datasets, Mapping):
        raise ConfigError(f"Manifest must be an object with a 'datasets' object. Received: {type(data).__name__}")
    return {name: _parse_dataset(name, raw) for name, raw in datasets.items()}


def load_manifest(path: str | Path | None = None) -> dict[str, DatasetEntry]:
    """Reads and checks a manifest file.

    Args:
        path: The JSON file. Defaults to the manifest shipped with the package.

    Returns:
        A dict from dataset name to its `DatasetEntry`.

    Raises:
        ConfigError: if the file is not valid JSON or not a valid manifest.
    """
    path = MANIFEST_PATH if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"Manifest {path} is not valid JSON: {err}") from err
    return parse_manifest(data)


@functools.lru_cache(maxsize=1)
def default_manifest() -> dict[str, DatasetEntry]:
    """Returns the manifest shipped with the package (read once per process)."""
    return load_manifest(MANIFEST_PATH)


def get_dataset_entry(name: str, manifest: Manifest | None = None) -> DatasetEntry:
    """Looks a dataset up by name.

    Args:
        name: The dataset's name, e.g. `"mnist"`.
        manifest: The manifest to search. Defaults to the package's manifest.

    Returns:
        The dataset's `DatasetEntry`.

    Raises:
        UnknownDatasetError: if the name is not in the manifest; the message lists the
            known names.

    Example:
        >>> get_dataset_entry("imdb").subdir
        'sentiment/imdb'
    """
    manifest = default_manifest() if manifest is None else manifest
    if not isinstance(name, str) or name not in manifest:
        raise UnknownDatasetError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(manifest))}. Pass one of these names."
        )
    return manifest[name]


def _parse_dataset(name: str, raw: Any) -> DatasetEntry:
    where = f"Manifest dataset {name!r}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object. Received: {type(raw).__name__}")
    subdir = raw.get("subdir", name)
    if not isinstance(subdir, str) or not subdir:
        raise ConfigError(f"{where}: 'subdir' must be a non-empty string. Received: subdir={subdir!r}")
    for part in subdir.split("/"):
        _check_component(part, f"{where}: every '/'-separated part of 'subdir'", f"subdir={subdir!r}")
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise ConfigError(f"{where}: 'files' must be a non-empty list. Received: {files!r}")
    entries = tuple(_parse_file(where, f) for f in files)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: file names must be unique. Received: {names}")
    system_dirs = raw.get("system_dirs") or []
    if not all(isinstance(d, str) and Path(d).is_absolute() for d in system_dirs):
        raise ConfigError(f"{where}: 'system_dirs' must be absolute paths. Received: {system_dirs!r}")
    return DatasetEntry(
        name=name,
        subdir=subdir,
        files=entries,
        title=str(raw.get("title", "")),
        homepage=str(raw.get("homepage", "")),
        system_dirs=tuple(Path(d) for d in system_dirs),
        notes=str(raw.get("notes", "")),
    )


def _parse_file(where: str, raw: Any) -> FileEntry:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: each file must be an object. Received: {raw!r}")
    raw_name = raw.get("name")
    name = _check_component(raw_name, f"{where}: file name", f"name={raw_name!r}")
    sha256, size = raw.get("sha256"), raw.get("size")
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise ConfigError(
            f"{where}: file {name!r} needs a lowercase hex 'sha256' of 64 digits. Received: sha256={sha256!r}"
        )
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ConfigError(f"{where}: file {name!r} needs a non-negative integer 'size'. Received: size={size!r}")
    decompress = raw.get("decompress", "none")
    if decompress not in DECOMPRESS_MODES:
        raise ConfigError(
            f"{where}: file {name!r} has an unknown 'decompress'; expected "
            f"one of {DECOMPRESS_MODES}. Received: decompress={decompress!r}"
        )
    urls = raw.get("urls") or []
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise ConfigError(
            f"{where}: file {name!r} needs 'urls' to be null or a list of http(s) URLs. Received: urls={urls!r}"
        )
    member = raw.get("archive_member")
    if member is not None:
        if not isinstance(member, str) or not member:
            raise ConfigError(
                f"{where}: file {name!r} has an invalid 'archive_member'. Received: archive_member={member!r}"
            )
        for part in member.split("/"):
            _check_component(part, f"{where}: every part of 'archive_member'", f"archive_member={member!r}")
    return FileEntry(
        name=name, sha256=sha256, size=size, decompress=decompress, urls=tuple(urls), archive_member=member
    )


def _check_component(part: Any, what: str, received: str) -> str:
    """Rejects anything but one plain path component, so joins stay inside a folder; returns it."""
    if not (
        isinstance(part, str)
        and part not in ("", ".", "..")
        and "/" not in part
        and "\\" not in part
        and "\0" not in part
        and not PurePosixPath(part).is_absolute()
        and not PureWindowsPath(part).drive
    ):
        raise ConfigError(
            f"{what} must be a single plain path component (no '/', '\\', '..' or absolute path). Received: {received}"
        )
    return part
