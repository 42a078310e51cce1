"""Precision: CPU training throughput of float32 against mixed_bfloat16, for the mnist and vit nets.

Each (net, precision) pair runs in its own fresh process: the net of the pipeline's
default config, compiled as the pipeline compiles it (its optimizer, loss,
`steps_per_execution` and `jit_compile`), trains on in-memory random images of the MNIST
shape at the default batch size. After `--warmup` steps (tracing, XLA compiling, the
first allocations), `--steps` more steps are timed; throughput is images per second of
that timed `fit`. The pairs alternate their order in each repeat, so that neither
precision always gets the slower minutes of a machine whose speed drifts, and the table
gives the median over repeats. The input step is a cached in-memory dataset, so the
figure is the net's training speed, not the data pipeline's.

bfloat16 halves the bytes moved, but a CPU without native bfloat16 arithmetic
(AVX512_BF16 or AMX) converts to float32 for every operation; the table says which
this CPU has.

    python benchmarks/precision.py [--steps 200] [--repeats 3]
    python benchmarks/precision.py --smoke      # a few steps, printed only: checks the script
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

NETS = ("mnist", "vit")
PRECISIONS = ("float32", "mixed_bfloat16")

MEASURE = textwrap.dedent(
    """
    import json, math, sys, time
    import keras, numpy as np, tensorflow as tf
    import pipelines
    from pipelines import devices
    from pipelines.training import make_optimizer, schedule_of

    net, precision, warmup, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    config = pipelines.get_config(net, precision=precision)
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(0)
    x = rng.random((4096, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 4096)
    if config.label_smoothing > 0:  # as the pipeline trains: one-hot labels with smoothing
        y = np.eye(10, dtype=np.float32)[y]
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=config.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(config.batch_size, drop_remainder=True).cache().repeat()
    with devices.precision_policy(precision):
        if net == "mnist":
            from pipelines.tasks.mnist import make_model
            model = make_model(config, (28, 28, 1), 10)
        else:
            from pipelines.nets.vit import make_vit
            model = make_vit((28, 28, 1), 10, **config.net_kwargs())
        model.compile(optimizer=make_optimizer(**schedule_of(config), steps_per_epoch=1000), loss=loss,
                      steps_per_execution=config.steps_per_execution, jit_compile=config.jit_compile)
        # Whole compiled calls only: round the step counts up to steps_per_execution.
        per_call = config.steps_per_execution
        warmup, steps = (per_call * math.ceil(n / per_call) for n in (warmup, steps))
        model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
        start = time.perf_counter()
        history = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    print(json.dumps({"images_per_second": steps * config.batch_size / seconds, "seconds": seconds, "steps": steps,
                      "batch_size": config.batch_size, "jit_compile": bool(config.jit_compile),
                      "steps_per_execution": per_call, "loss": float(history.history["loss"][-1]),
                      "policy": model.dtype_policy.name}))
    """
)


def cpu_bfloat16_support() -> str:
    """The CPU's native bfloat16 instruction sets, from /proc/cpuinfo's flags."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) if found else "none (no avx512_bf16 or amx_bf16 flag)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per measurement")
    parser.add_argument("--warmup", type=int, default=32, help="untimed steps before the timed ones")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per (net, precision) pair")
    parser.add_argument(
        "--smoke", action="store_true", help="8 timed steps, 1 repeat, printed only (never appended to BENCHMARKS.md)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.warmup, args.repeats = 8, 8, 1
    if min(args.steps, args.warmup, args.repeats) < 1:
        raise SystemExit(
            f"expected positive --steps, --warmup and --repeats. Received: {args.steps}, {args.warmup}, {args.repeats}"
        )

    measured: dict[tuple[str, str], list[dict]] = {(n, p): [] for n in NETS for p in PRECISIONS}
    for repeat in range(args.repeats):
        for net in NETS:
            order = PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]
            for precision in order:
                r = run_script(MEASURE, net, precision, str(args.warmup), str(args.steps))
                if r["policy"] != precision:
                    raise SystemExit(f"the {net} net was built under {r['policy']!r}, not {precision!r}")
                measured[(net, precision)].append(r)
                print(
                    f"{net} {precision} repeat {repeat + 1}: {r['images_per_second']:.0f} images/s "
                    f"({r['steps']} steps in {r['seconds']:.1f} s)",
                    flush=True,
                )

    rows = []
    for net in NETS:
        base = statistics.median(r["images_per_second"] for r in measured[(net, "float32")])
        for precision in PRECISIONS:
            runs = measured[(net, precision)]
            speed = statistics.median(r["images_per_second"] for r in runs)
            rows.append(
                [
                    f"`{net}` net",
                    precision,
                    f"{speed:.0f}",
                    f"{speed / base:.2f}x",
                    ", ".join(f"{r['images_per_second']:.0f}" for r in runs),
                    runs[0]["batch_size"],
                    runs[0]["steps"],
                    "yes" if runs[0]["jit_compile"] else "no",
                    f"{runs[0]['loss']:.3f}",
                ]
            )
    table = markdown_table(
        [
            "net",
            "precision",
            "images/s (median)",
            "vs float32",
            "each repeat",
            "batch",
            "timed steps",
            "XLA",
            "last loss",
        ],
        rows,
    )
    note = (
        f"\nCPU native bfloat16: {cpu_bfloat16_support()}. Default configs of each pipeline; random "
        f"in-memory images; {args.warmup} warm-up steps, then the timed steps; each measurement in a fresh "
        "process, the precisions alternating order per repeat."
    )
    print(table + "\n" + note)
    if args.smoke or args.no_write:
        print("\n(smoke run or --no-write: not appended to BENCHMARKS.md)")
        return
    append_section("Precision: float32 vs mixed_bfloat16 training throughput on CPU", table + "\n" + note)


if __name__ == "__main__":
    main()
