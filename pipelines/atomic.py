"""Atomic file writes: a reader never sees a half-written file under its final name."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_dir", "check_new_folder", "write_bytes", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renames it onto `path` on success.

    The temporary file keeps `path`'s suffix (Keras insists on `.keras`) and is removed
    if the block raises, so a crash leaves at most a hidden `.tmp-*` file, never a
    partial file under the final name.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(d / "a.txt") as tmp:
        ...     _ = tmp.write_text("hi")
        >>> (d / "a.txt").read_text()
        'hi'
    """
    path = Path(path)
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.stem}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600 files; give the final file the usual umask-based mode.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary folder beside `path`; renames it onto `path` on success.

    `path` must not exist, or be an empty folder: a folder of results is never merged
    into another. If the block raises, the temporary folder and the parents made for it
    are removed, so nothing half-written is left.

    Raises:
        OutputDirError: `path` is a file or a folder that is not empty, or cannot be created.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_dir(d / "out") as tmp:
        ...     _ = (tmp / "a.txt").write_text("hi")
        >>> sorted(p.name for p in (d / "out").iterdir())
        ['a.txt']
    """
    from pipelines.errors import OutputDirError

    path = check_new_folder(path)
    made = [p for p in path.parents if not p.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    except OSError as e:
        raise OutputDirError(f"cannot create a folder beside {str(path)!r}: {e}") from e
    try:
        yield tmp
        if path.is_dir():
            path.rmdir()  # empty, checked above
        os.replace(tmp, path)
        os.chmod(path, 0o777 & ~_umask())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for parent in made:
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


def check_new_folder(path: str | os.PathLike) -> Path:
    """`path`, if it does not exist or is an empty folder (what `atomic_dir` writes to).

    Raises:
        OutputDirError: `path` is a file, or a folder that is not empty.
    """
    from pipelines.errors import OutputDirError

    path = Path(path)
    if path.is_file() or (path.is_dir() and any(path.iterdir())):
        raise OutputDirError(f"expected a new or empty folder. Received {str(path)!r}, which is not empty")
    return path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` atomically and returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes UTF-8 `text` to `path` atomically and returns the path."""
    return write_bytes(path, text.encode("utf-8"))
