"""The run directory: created fresh (two runs never share one), refused when it holds a finished
run, and removed again, with the folders made for it, when a run stops before writing anything.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pipelines.errors import OutputDirError

__all__ = ["make_run_dir", "lock_run_dir", "existing_dir", "missing_parents", "remove_empty_dirs", "LOCK_FILE"]

# Held (flock) by the process whose run writes into the folder; removed when the run ends.
LOCK_FILE = ".run.lock"


def make_run_dir(out: str | os.PathLike | None, pipeline: str) -> Path:
    """Creates and returns the run directory; checks that it is writable.

    With `out=None` it is `reports/<pipeline>/<timestamp>/`; two runs started in the same
    second, in one process or several, get distinct directories (`-2`, `-3`, ... suffixes;
    each is created with an exclusive `mkdir`, which only one caller can win).

    An explicit `out` may be new, empty, or hold an unfinished run: its `backup/` lets the
    same command resume a killed run, and a diverged (failed) run may be retried. A folder
    holding a finished run (`model.keras`, or a `report.json` whose status is not
    `failed`) is refused rather than silently overwritten, and so is one that holds a
    symbolic link: a run writes only inside its folder (`out` itself may be a link).

    Raises:
        OutputDirError: The directory cannot be created or written, holds a finished run, or
            holds a symbolic link.
    """
    try:
        if out is not None:
            path = Path(out)
            _check_no_finished_run(path)
            _check_no_links_inside(path)
            path.mkdir(parents=True, exist_ok=True)
        else:
            parent = Path("reports") / pipeline
            parent.mkdir(parents=True, exist_ok=True)
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for i in range(1, 1000):
                path = parent / (stamp if i == 1 else f"{stamp}-{i}")
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    continue
            else:
                raise OutputDirError(f"could not create a fresh run directory under {parent}")
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OutputDirError:
        raise
    except OSError as e:
        target = out if out is not None else f"reports/{pipeline}"
        raise OutputDirError(
            f"cannot write the run directory {str(target)!r}: {e.strerror or e}. Pass a writable --out DIR."
        ) from e
    return path


def lock_run_dir(run_dir: Path) -> Callable[[], None]:
    """Claims `run_dir` for this process's run; returns the function that releases it.

    A second run into a folder that a live run holds is refused at once, so scripted sweeps
    never mix two runs' files. The claim is an `flock` on `LOCK_FILE`, which the kernel
    drops when the process ends, so a killed run never leaves the folder stuck (its
    leftover lock file is claimed again by the next run).

    Raises:
        OutputDirError: Another live run holds `run_dir`, or (checked again once claimed)
            it finished in the meantime.
    """
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        raise OutputDirError(
            f"--out {str(run_dir)!r} is in use by another run (it holds {LOCK_FILE}). "
            "Wait for that run to end, or pass another --out DIR."
        ) from e
    try:
        _check_no_finished_run(run_dir)  # a run that ended between the first check and this claim
    except OutputDirError:
        os.close(fd)
        raise

    def release() -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)

    return release


def _check_no_links_inside(path: Path) -> None:
    # checkpoints/ or backup/ linked elsewhere would have the run write outside --out.
    if not path.is_dir():
        return
    for folder, dirs, files in os.walk(path):  # does not follow links
        for name in (*dirs, *files):
            entry = Path(folder) / name
            if entry.is_symlink():
                raise OutputDirError(
                    f"--out {str(path)!r} holds a symbolic link ({entry.relative_to(path)} -> {os.readlink(entry)}); "
                    "a run writes only inside its folder. Remove the link, or pass a new --out DIR."
                )


def _check_no_finished_run(path: Path) -> None:
    finished = [name for name in ("model.keras", "report.json") if (path / name).is_file()]
    if finished == ["report.json"] and _report_status(path / "report.json") == "failed":
        return  # a diverged run: retrying it (with a lower learning rate) is the fix
    if finished:
        raise OutputDirError(
            f"--out {str(path)!r} already holds a finished run ({', '.join(finished)}). "
            "Pass a new --out DIR, or delete that folder to run again."
        )


def _report_status(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None  # unreadable: treated as a finished run, never overwritten


def existing_dir(out: str | os.PathLike | None) -> bool:
    return out is not None and Path(out).is_dir()


def missing_parents(out: str | os.PathLike | None, pipeline: str) -> list[Path]:
    """The folders above the run directory that do not exist yet (`make_run_dir` creates them), nearest first."""
    target = Path(out) if out is not None else Path("reports") / pipeline / "run"
    return [p for p in target.parents if not p.exists()]


def remove_empty_dirs(run_dir: Path, *, keep_root: bool, parents: Sequence[Path] = ()) -> None:
    """Removes empty folders under `run_dir` bottom-up, `run_dir` unless `keep_root`, then `parents`.

    Never removes a file. A run that stops on bad input has written nothing, so this
    removes the folders it created (`parents`: those `make_run_dir` made above the run
    directory, such as `reports/<pipeline>/`; a folder the user made is kept); a killed or
    diverged run keeps its backup and checkpoints.
    """
    for folder in sorted((p for p in run_dir.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    if not keep_root:
        with contextlib.suppress(OSError):
            run_dir.rmdir()
            for folder in parents:
                folder.rmdir()
