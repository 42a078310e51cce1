"""Helpers shared by the benchmark scripts: machine description and BENCHMARKS.md output."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


def machine() -> str:
    """One line: CPU model, cores, memory, Python, TensorFlow and Keras versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import keras
    import tensorflow as tf

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, no GPU; Python {platform.python_version()}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )


def run_script(script: str, *args: str) -> dict:
    """Runs `python -c script *args` in a fresh process and returns the JSON on its last stdout line.

    A fresh process per measured side, so neither inherits the other's TensorFlow state.
    """
    import json

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def append_section(title: str, body: str, command: str | None = None) -> None:
    """Appends a dated section with the command and machine to BENCHMARKS.md."""
    command = command or "python " + " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        if commit and dirty:
            commit += " + uncommitted changes"
    except OSError:
        commit = ""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"\n## {title}\n\n- date: {stamp}\n- command: `{command}`\n- commit: {commit or 'n/a'}\n"
        f"- machine: {machine()}\n\n{body}\n"
    )
    if not BENCHMARKS_MD.exists():
        BENCHMARKS_MD.write_text("# Benchmarks\n\nMeasured by the scripts in `benchmarks/`; newest sections last.\n")
    with BENCHMARKS_MD.open("a") as f:
        f.write(text)
    print(text)


def publish(title: str, body: str, *, smoke: bool) -> None:
    """Appends the section to BENCHMARKS.md, or only prints it for a smoke run (tiny settings)."""
    if smoke:
        print(body)
    else:
        append_section(title, body)
