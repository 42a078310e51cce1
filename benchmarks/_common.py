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

    # The package, and these helpers (`from _common import forward_flops`), importable.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# The machine's float32 matmul rate (2048^3 on all cores), the yardstick of the FLOP/s shares.
PEAK_SCRIPT = """
import json, time
import tensorflow as tf
n = 2048
a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
mm = tf.function(lambda a, b: tf.matmul(a, b))
mm(a, b).numpy()
best = 0.0
for _ in range(5):
    start = time.perf_counter()
    for _ in range(10):
        c = mm(a, b)
    c.numpy()
    best = max(best, 10 * 2 * n**3 / (time.perf_counter() - start))
print(json.dumps({"peak_flops": best}))
"""


def forward_flops(model: object, image_shape: Sequence[int]) -> int:
    """Forward FLOPs of one image through `model`, from TensorFlow's profiler on the traced graph."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec((1, *image_shape)))
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return int(tf.compat.v1.profiler.profile(graph=fn.graph, options=opts).total_float_ops)


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
