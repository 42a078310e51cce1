"""Multi-worker training throughput: the `mnist` CNN on 1 worker against 2 workers on localhost.

Each side starts its worker processes at once (a fresh process per worker; a
MultiWorkerMirroredStrategy must be created before TensorFlow runs anything). Every worker
builds the `mnist` pipeline's default CNN and optimizer, reads its own slice of the MNIST
training set, and runs the production training step (`pipelines.multiworker.make_train_step`):
warm-up steps first (tracing, caches), then a barrier, then the timed steps. Throughput is
global images per second at the pipeline's global batch (128), as timed by the chief.
Each worker gets its share of the cores as TensorFlow threads (2 cores: 2 threads for one
worker, 1 each for two). A third row gives Keras `fit()` in one plain process, the
single-machine path, for reference.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/multiworker.py [--steps 300] [--smoke]

`--smoke` runs a few steps on 2,048 images and does not write BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import ROOT, append_section, markdown_table  # noqa: E402

from pipelines.worker_cluster import local_worker_addresses  # noqa: E402

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import tensorflow as tf
    workers, index, threads, warmup, steps, limit = sys.argv[1].split(","), *map(int, sys.argv[2:7])
    # Before anything else runs: threads are fixed when TensorFlow initializes.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import pipelines
    from pipelines import multiworker
    from pipelines.worker_cluster import cluster_from_workers
    from pipelines.inputs.mnist import load_mnist_family
    from pipelines.recipes.image_classifier_cluster import make_worker_dataset_fn
    from pipelines.tasks.mnist import make_model
    from pipelines.training import make_optimizer, schedule_of

    strategy = multiworker.make_strategy(cluster_from_workers(workers, index), "cpu")
    config = pipelines.get_config("mnist", label_smoothing=0.0)  # integer labels for the sparse loss below
    data = load_mnist_family("mnist")
    x, y = data.x_train[:limit], data.y_train[:limit]
    with strategy.scope():
        model = make_model(config, (28, 28, 1), 10)
        model.compile(optimizer=make_optimizer(**schedule_of(config), steps_per_epoch=len(y) // config.batch_size),
                      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    make_dataset = make_worker_dataset_fn(x, y, config, 10)
    iterator = iter(strategy.distribute_datasets_from_function(lambda ctx: make_dataset(ctx).repeat()))
    train_steps = multiworker.make_train_step(model, strategy, config.batch_size)
    per_call = config.steps_per_execution

    def run(n):
        loss = 0.0
        while n > 0:
            loss += float(train_steps(iterator, tf.constant(min(per_call, n)))[0])
            n -= per_call
        return loss

    run(warmup)
    multiworker.wait_for_all_workers(strategy)  # every worker starts the clock together
    start = time.perf_counter()
    loss = run(steps)
    seconds = time.perf_counter() - start
    multiworker.wait_for_all_workers(strategy)
    print(json.dumps({"seconds": seconds, "images": steps * config.batch_size, "mean_loss": loss / steps,
                      "replicas": strategy.num_replicas_in_sync}))
    """
)

FIT = textwrap.dedent(
    """
    import json, sys, time
    import tensorflow as tf
    threads, warmup, steps, limit = map(int, sys.argv[1:5])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import pipelines
    from pipelines.inputs.images import make_image_dataset
    from pipelines.inputs.mnist import load_mnist_family
    from pipelines.tasks.mnist import make_model
    from pipelines.training import make_optimizer, schedule_of

    config = pipelines.get_config("mnist", label_smoothing=0.0)  # integer labels for the sparse loss below
    data = load_mnist_family("mnist")
    x, y = data.x_train[:limit], data.y_train[:limit]
    ds = make_image_dataset(x, y, batch_size=config.batch_size, training=True, augment=config.augment,
                            seed=config.seed, num_classes=10).repeat()
    model = make_model(config, (28, 28, 1), 10)
    model.compile(optimizer=make_optimizer(**schedule_of(config), steps_per_epoch=len(y) // config.batch_size),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=config.steps_per_execution)
    model.fit(ds, steps_per_epoch=warmup, epochs=1, verbose=0)
    start = time.perf_counter()
    history = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "images": steps * config.batch_size,
                      "mean_loss": history.history["loss"][-1], "replicas": 1}))
    """
)


def _env() -> dict[str, str]:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def run_cluster(n_workers: int, threads: int, warmup: int, steps: int, limit: int, timeout: float) -> dict:
    """Starts `n_workers` processes on localhost and returns the chief's measurement."""
    workers = ",".join(local_worker_addresses(n_workers))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, workers, str(i), str(threads), str(warmup), str(steps), str(limit)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n_workers)
    ]
    try:
        outputs = [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:  # one worker failing leaves the others waiting in a collective op
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, err) in zip(procs, outputs):
        if p.returncode != 0:
            raise SystemExit(err[-3000:])
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def run_fit(threads: int, warmup: int, steps: int, limit: int, timeout: float) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FIT, str(threads), str(warmup), str(steps), str(limit)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=320, help="timed steps per side (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=32, help="untimed steps first (tracing, caches)")
    parser.add_argument("--smoke", action="store_true", help="a few steps on 2,048 images; no BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding mnist/")
    warmup, steps, limit = (16, 16, 2048) if args.smoke else (args.warmup, args.steps, 60000)
    timeout = 600 if args.smoke else 3600
    cores = os.cpu_count() or 1
    sides = [
        ("1 worker (custom loop, MultiWorkerMirroredStrategy)", 1),
        ("2 workers on localhost (custom loop, MultiWorkerMirroredStrategy)", 2),
    ]
    rows, baseline = [], None
    for name, n in sides:
        threads = max(1, cores // n)
        r = run_cluster(n, threads, warmup, steps, limit, timeout)
        speed = r["images"] / r["seconds"]
        baseline = baseline or speed
        rows.append(
            [name, n, threads, r["replicas"], steps, f"{r['seconds']:.1f}", f"{speed:.0f}", f"{speed / baseline:.2f}x"]
        )
        print(rows[-1], flush=True)
    r = run_fit(cores, warmup, steps, limit, timeout)
    speed = r["images"] / r["seconds"]
    rows.append(
        [
            "1 process, Keras fit() (the single-machine path)",
            1,
            cores,
            1,
            steps,
            f"{r['seconds']:.1f}",
            f"{speed:.0f}",
            f"{speed / baseline:.2f}x",
        ]
    )
    print(rows[-1], flush=True)
    table = markdown_table(
        [
            "setup",
            "processes",
            "threads each",
            "replicas",
            "timed steps",
            "seconds",
            "images/s (global batch 128)",
            "vs 1 worker",
        ],
        rows,
    )
    notes = (
        f"This machine has {cores} CPU cores and both workers run on it, one thread each, so the "
        "2-worker row adds no compute: it splits the same cores between two processes and adds a "
        "gradient all-reduce over localhost gRPC after every step. A difference from the 1-worker row "
        "shows how well one 2-thread process uses these cores for this small net against two 1-thread "
        "processes, not how training scales across machines; that needs real hosts, which this "
        "benchmark does not have."
    )
    print(table)
    print(notes)
    if not args.smoke:
        append_section("Multi-worker: `mnist` CNN throughput, 1 vs 2 workers on localhost", f"{table}\n\n{notes}")


if __name__ == "__main__":
    main()
