"""Tests of pipelines.multiworker: the custom loop that trains under MultiWorkerMirroredStrategy.

- Unsupported pipelines and conflicting settings are refused before any work.
- The loop's checkpoint resumes exactly (one process, the default strategy).
- Each worker's input is a disjoint slice of the training set.
- Two worker processes on localhost train mnist in lockstep; one is killed, the chief stops
  with a clear error instead of hanging, and the restarted pair resumes from the chief's
  checkpoint; only the chief writes (slow, real data).

A MultiWorkerMirroredStrategy must be created before TensorFlow runs anything in its
process, so the cluster runs happen in fresh subprocesses.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import PYTHON

import pipelines
from pipelines import registry
from pipelines.errors import ConfigError
from pipelines.worker_cluster import local_worker_addresses

TWO_WORKERS = ("localhost:12345", "localhost:12346")


# From the registry, so that a new pipeline is checked here without an edit.
SINGLE_MACHINE = [name for name in registry.list_pipelines() if not registry.get_task(name).multi_worker]
SUPPORTED = ", ".join(registry.multi_worker_pipelines())


@pytest.mark.parametrize("name", SINGLE_MACHINE)
def test_pipelines_without_the_custom_loop_are_refused_before_any_work(name, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(
        ConfigError, match=rf"pipeline '{name}' cannot train on several workers yet.*support: {SUPPORTED}\."
    ):
        pipelines.run(name, workers=TWO_WORKERS, worker_index=0, out=str(out))
    assert not out.exists()


def test_tf_config_in_the_environment_also_selects_the_cluster(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": list(TWO_WORKERS)}, "task": {"type": "worker", "index": 1}})
    )
    with pytest.raises(ConfigError, match="pipeline 'dcgan' cannot train on several workers"):
        pipelines.run("dcgan", out=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match="the cluster is given twice"):
        pipelines.run("mnist", workers=TWO_WORKERS, worker_index=0, out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_bad_workers_fail_in_get_config_too():
    with pytest.raises(ConfigError, match="Received: 'nohost'"):
        pipelines.get_config("mnist", workers=("nohost",), worker_index=0)


def test_evaluate_refuses_workers(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    with pytest.raises(ConfigError, match="evaluate runs on one machine"):
        pipelines.evaluate("mnist", model, workers=TWO_WORKERS, worker_index=0)


def test_a_global_batch_that_does_not_split_over_the_replicas_is_refused():
    from pipelines.multiworker import check_global_batch

    check_global_batch(64, 2)
    with pytest.raises(ConfigError, match="batch_size=65; pass a multiple of 2, e.g. 64"):
        check_global_batch(65, 2)


def test_each_worker_reads_a_disjoint_slice_of_the_training_set():
    import tensorflow as tf

    from pipelines.recipes.image_classifier_cluster import make_worker_dataset_fn

    # Image k is a constant image of value k, so a batch tells which images it holds.
    n = 200
    x = np.repeat(np.arange(n, dtype="uint8")[:, None, None], 28, axis=1).repeat(28, axis=2)
    y = np.arange(n) % 10
    config = pipelines.get_config("mnist", batch_size=20, augment={"use_augmentation": False})
    fn = make_worker_dataset_fn(x, y, config, 10)
    seen = []
    for worker in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2)
        batches = list(fn(ctx))
        assert all(len(images) == 10 for images, _ in batches)  # the per-replica share of 20
        seen.append({int(round(v * 255)) for images, _ in batches for v in images[:, 0, 0, 0].numpy()})
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(n))


def _toy_problem(flip_validation_labels: bool = False):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")

    def make_model() -> keras.Model:
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(2),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        return model

    def make_train_dataset(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        # A fixed order: the resumed epochs see the same batches as the uninterrupted run.
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(ctx.get_per_replica_batch_size(32))

    val_y = 1 - y[:64] if flip_validation_labels else y[:64]
    val_ds = tf.data.Dataset.from_tensor_slices((x[:64], val_y)).batch(32)
    return make_model, make_train_dataset, val_ds


def test_the_checkpoint_resumes_exactly_after_an_interruption(tmp_path, monkeypatch):
    """Interrupted right after the epoch-1 checkpoint and resumed with fresh objects (as a new
    process would be), the loop continues at epoch 2 and ends with the uninterrupted run's exact
    weights: model, optimizer state and the dropout seed state are all in the checkpoint."""
    import tensorflow as tf

    from pipelines import multiworker
    from pipelines.config import TrainConfig

    make_model, make_train_dataset, val_ds = _toy_problem()
    config = TrainConfig(epochs=3, batch_size=32, early_stopping_patience=0, steps_per_execution=3, verbose=0)
    strategy = tf.distribute.get_strategy()

    def train(run_dir: Path) -> multiworker.DistributedFit:
        return multiworker.fit_multiworker(
            make_model(),
            make_train_dataset,
            val_ds,
            config,
            strategy=strategy,
            cluster=None,
            run_dir=run_dir,
            steps_per_epoch=8,
        )

    reference = train(tmp_path / "reference")

    save = multiworker._Loop._save

    def save_then_die(self, history):
        save(self, history)
        if int(self.epoch.numpy()) == 1:
            raise KeyboardInterrupt("planted Ctrl-C")

    run_dir = tmp_path / "run"
    monkeypatch.setattr(multiworker._Loop, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        train(run_dir)
    monkeypatch.undo()
    assert tf.train.latest_checkpoint(str(run_dir / "backup")).endswith("ckpt-1")

    resumed = train(run_dir)
    assert resumed.initial_epoch == 1
    assert len(resumed.history["loss"]) == 3  # the epoch before the interruption, from backup/history.json
    assert resumed.history["loss"] == pytest.approx(reference.history["loss"])
    for a, b in zip(reference.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (run_dir / "backup").exists()  # removed once training ends
    assert (run_dir / "checkpoints" / "best.keras").is_file()


def test_early_stopping_ends_on_the_best_epoch(tmp_path):
    """As fit() with EarlyStopping(restore_best_weights=True): the returned model is the best
    validation epoch's, read back from checkpoints/best.keras."""
    import keras
    import tensorflow as tf

    from pipelines import multiworker
    from pipelines.config import TrainConfig

    # Validation labels opposite to the training rule: every epoch of learning makes the
    # validation loss worse, so epoch 1 is the best and the run stops two epochs later.
    make_model, make_train_dataset, val_ds = _toy_problem(flip_validation_labels=True)
    config = TrainConfig(epochs=10, batch_size=32, early_stopping_patience=2, verbose=0)
    fitted = multiworker.fit_multiworker(
        make_model(),
        make_train_dataset,
        val_ds,
        config,
        strategy=tf.distribute.get_strategy(),
        cluster=None,
        run_dir=tmp_path,
        steps_per_epoch=8,
    )
    val = fitted.history["val_loss"]
    assert len(val) == 3 and val[0] < val[1] < val[2]
    best = keras.saving.load_model(tmp_path / "checkpoints" / "best.keras")
    for a, b in zip(best.get_weights(), fitted.model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- two processes

WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import numpy as np
    import pipelines
    workers, index, out, dump = sys.argv[1].split(","), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    r = pipelines.run("mnist", workers=tuple(workers), worker_index=index, out=out, epochs=3,
                      max_train_samples=2000, batch_size=64, early_stopping_patience=0, verbose=0)
    # Outside the run directory: each worker's final weights, to compare across processes.
    weights = r.model.get_weights()
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in weights)).hexdigest()
    json.dump({"sha256": digest, "report_dir": None if r.report_dir is None else str(r.report_dir)}, open(dump, "w"))
    """
)


def _start(workers: str, index: int, tmp_path: Path, env: dict, tag: str) -> subprocess.Popen:
    scratch = tmp_path / f"tmp{index}-{tag}"
    scratch.mkdir()
    log = open(tmp_path / f"worker{index}-{tag}.log", "w")
    # Each worker's temporary files (a non-chief's checkpoint copies) land in its own TMPDIR.
    return subprocess.Popen(
        [
            PYTHON,
            "-c",
            WORKER,
            workers,
            str(index),
            str(tmp_path / f"out{index}"),
            str(tmp_path / f"weights{index}.json"),
        ],
        env=dict(env, TMPDIR=str(scratch)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _log(tmp_path: Path, index: int, tag: str) -> str:
    return (tmp_path / f"worker{index}-{tag}.log").read_text()[-3000:]


@pytest.mark.slow
@pytest.mark.realdata
def test_two_workers_train_in_lockstep_survive_a_worker_restart_and_only_the_chief_writes(
    tmp_path, python_env, real_data_dir
):
    env = dict(python_env, PIPELINES_DATA_DIR=str(real_data_dir))
    workers = ",".join(local_worker_addresses(2))
    chief_out, worker_out = tmp_path / "out0", tmp_path / "out1"
    procs = [_start(workers, i, tmp_path, env, "first") for i in range(2)]
    try:
        # Kill the non-chief right after the chief's epoch-1 checkpoint.
        index_file = chief_out / "backup" / "checkpoint"
        deadline = time.time() + 240
        while not index_file.is_file() and time.time() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.05)
        assert index_file.is_file(), _log(tmp_path, 0, "first")
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait(timeout=30)
        # The chief notices (heartbeats stop) and stops with a typed error instead of hanging.
        assert procs[0].wait(timeout=120) == 1
        assert "ClusterError: a worker of this run stopped or cannot be reached" in _log(tmp_path, 0, "first")
        assert not (chief_out / "report.json").exists()
        saved = int(re.search(r'model_checkpoint_path: "ckpt-(\d+)"', index_file.read_text()).group(1))
        assert 1 <= saved < 3

        # The restarted pair resumes from the chief's checkpoint and finishes.
        procs = [_start(workers, i, tmp_path, env, "second") for i in range(2)]
        for i, proc in enumerate(procs):
            assert proc.wait(timeout=300) == 0, _log(tmp_path, i, "second")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    chief, worker = (json.loads((tmp_path / f"weights{i}.json").read_text()) for i in range(2))
    # No final broadcast with early_stopping_patience=0: equal weights mean the two trained in lockstep.
    assert chief["sha256"] == worker["sha256"]
    report = json.loads((chief_out / "report.json").read_text())
    assert report["status"] == "ok" and report["resumed_from_epoch"] == saved
    assert len(report["history"]["loss"]) == 3 and report["metrics"]["accuracy"] > 0.8
    assert report["environment"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert report["environment"]["cluster"]["num_workers"] == 2 and report["environment"]["replicas"] == 2
    assert (chief_out / "model.keras").is_file() and not (chief_out / "backup").exists()
    # The non-chief wrote nothing: no run directory, and its checkpoint copies are gone (the
    # SIGKILLed first process could not remove its own; its TMPDIR is tmp1-first).
    assert worker["report_dir"] is None and not worker_out.exists()
    assert not list((tmp_path / "tmp1-second").glob("pipelines-worker*"))
