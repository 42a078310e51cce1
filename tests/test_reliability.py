"""The reliability catalogue (docs/reliability.md): one test per row.

Bad input: each row feeds one bad input through the public boundary (the CLI where one
exists) and checks the typed error, its message (the problem and the fix), the exit
status 2 with one line, and that nothing was written. Faults: a diverging loss, an
interrupted write, concurrent runs, untrusted models and archive paths. The kill-and-resume
test is in test_resume.py; the fuzzing in test_fuzz.py.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
import types
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import PYTHON

import pipelines
from pipelines import atomic, run_dir, run_outputs, runner
from pipelines.cli import main
from pipelines.errors import (
    ChecksumMismatch,
    ConfigError,
    DataValidationError,
    ModelLoadError,
    OutputDirError,
    PipelinesError,
    TrainingDivergedError,
    UnknownPipelineError,
)

QUICK = ["--epochs", "1", "--quiet", "--device", "cpu"]


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _cli_refuses(argv: list[str], out: Path, message: str, capsys: pytest.CaptureFixture) -> str:
    """Runs the CLI; checks exit 2, one line naming the problem, no traceback, nothing under `out`."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pipelines: error:"), err
    assert message in err, err
    assert "Traceback" not in err
    assert _files(out) == [], _files(out)
    return err


# ------------------------------------------------------------------ bad input: names and config


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "nope"], "unknown pipeline 'nope'. Available pipelines: advertising"),
        (["run", "mnist", "--set", "epoch=2"], "unknown config key 'epoch' for MnistConfig. Did you mean 'epochs'?"),
        (["run", "mnist", "--set", "epochs=-1"], "epochs must be >= 1. Received: epochs=-1"),
        (["run", "mnist", "--set", "batch_size=big"], "batch_size must be of type int. Received: batch_size='big'"),
        (["run", "mnist", "--set", "learning_rate=nan"], "learning_rate must be of type float"),
        (["run", "mnist", "--set", "noequals"], "expected key=value. Received: 'noequals'"),
        (
            ["run", "mnist", "--set", "dataset=../../no/such/images"],
            "dataset must be one of mnist, fashion_mnist, digits, cifar10, a folder of class folders, tfds:NAME or an",
        ),
        (["run", "sentiment", "--set", "dataset=custom"], "dataset='custom' reads custom_csv: pass custom_csv=PATH"),
    ],
    ids=[
        "unknown-pipeline",
        "unknown-key",
        "negative-epochs",
        "string-batch-size",
        "nan-learning-rate",
        "set-without-equals",
        "dataset-path-traversal",
        "custom-without-csv",
    ],
)
def test_bad_name_or_config(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    _cli_refuses(argv + ["--out", str(out)], out, message, capsys)
    assert not out.exists()


# ------------------------------------------------------------------ bad input: images


def test_images_of_the_wrong_shape():
    from pipelines.inputs.images import make_image_dataset

    with pytest.raises(DataValidationError, match=r"shape \(n, h, w\).*Received shape \(28, 28\)"):
        make_image_dataset(np.zeros((28, 28), "uint8"), None, batch_size=4, training=False)


def test_images_of_the_wrong_dtype_and_range():
    from pipelines.inputs.images import make_image_dataset

    with pytest.raises(DataValidationError, match=r"expected uint8.*float64 with values in \[0, 1\].*\* 255"):
        make_image_dataset(np.linspace(0, 1, 2 * 8 * 8).reshape(2, 8, 8), None, batch_size=4, training=False)


def test_images_with_nan_or_inf():
    from pipelines.inputs.images import check_images

    x = np.zeros((3, 8, 8), "float32")
    x[0, 0, 0], x[1, 1, 1] = np.nan, np.inf
    with pytest.raises(DataValidationError, match="float32 with 2 NaN/inf values"):
        check_images(x)


def test_image_labels_outside_the_class_set():
    from pipelines.inputs.images import make_image_dataset

    with pytest.raises(DataValidationError, match=r"labels in 0..9.*e.g. 10 at index 1"):
        make_image_dataset(
            np.zeros((3, 8, 8), "uint8"), np.array([0, 10, 3]), batch_size=4, training=False, num_classes=10
        )


# ------------------------------------------------------------------ bad input: CSV (advertising)


def _advertising_cli(csv: Path, out: Path) -> list[str]:
    return ["run", "advertising", "--set", f"csv={csv}", "--out", str(out), *QUICK]


@pytest.mark.parametrize(
    "content,message",
    [
        (b"TV,radio,sales\n1,2,3\n4,5,6\n", "Received a table without ['newspaper']"),
        (b"TV,radio,newspaper,sales\n1,2,3,4\n5,lots,7,8\n", "non-numeric values, e.g. 'lots' at index [1]"),
        (b"", "expected a CSV file with a header row"),
        (b"TV,radio,newspaper,sales\n1,2,3,4\n5,,7,8\n", "missing (NaN) values at index [1]. Drop or fill"),
        (b"TV,radio,newspaper,sales\n1,2,3,4\n5,inf,7,8\n", "missing or infinite values at index [1]"),
    ],
    ids=["missing-column", "non-numeric-cell", "empty-file", "nan-feature", "inf-feature"],
)
def test_bad_csv(content, message, tmp_path, capsys):
    csv = tmp_path / "data.csv"
    csv.write_bytes(content)
    out = tmp_path / "out"
    _cli_refuses(_advertising_cli(csv, out), out, message, capsys)


# ------------------------------------------------------------------ bad input: texts (sentiment)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"text,label\ngood film,1\n   ,0\n", "expected non-empty texts. Received 1 empty"),
        (b"", "is empty (0 bytes)"),
        ("text,label\ncaf\u00e9 noir,1\nbad,0\n".encode("latin-1"), "is not valid utf-8: byte 0xe9 at line 2"),
        (b"text,label\ngood,1\ngreat,1\n", "expected examples of both classes"),
        (b"text,label\ngood,1\nbad,2\n", "expected labels 0/1 (0 = negative, 1 = positive)"),
    ],
    ids=["empty-text", "empty-file", "non-utf8", "single-class", "label-outside-class-set"],
)
def test_bad_texts(content, message, tmp_path, capsys):
    csv = tmp_path / "texts.csv"
    csv.write_bytes(content)
    out = tmp_path / "out"
    argv = ["run", "sentiment", "--set", "dataset=custom", "--set", f"custom_csv={csv}", "--out", str(out), *QUICK]
    _cli_refuses(argv, out, message, capsys)


# ------------------------------------------------------------------ bad input: data dir and --out


def _mnist_copy(real_data_dir: Path, tmp_path: Path) -> Path:
    data = tmp_path / "mnist"
    shutil.copytree(real_data_dir / "mnist", data)
    return data


@pytest.mark.realdata
def test_truncated_gz_in_the_data_dir(real_data_dir, tmp_path, capsys):
    data = _mnist_copy(real_data_dir, tmp_path)
    labels = data / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:1000])
    out = tmp_path / "out"
    _cli_refuses(
        ["run", "mnist", "--data-dir", str(data), "--out", str(out), *QUICK],
        out,
        "t10k-labels-idx1-ubyte.gz is not a complete gzip file",
        capsys,
    )


@pytest.mark.realdata
def test_checksum_mismatch_in_the_data_dir(real_data_dir, tmp_path, capsys):
    data = _mnist_copy(real_data_dir, tmp_path)
    labels = data / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(labels.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # one label changed: still a valid gzip and IDX file
    labels.write_bytes(gzip.compress(bytes(content)))
    out = tmp_path / "out"
    err = _cli_refuses(
        ["run", "mnist", "--data-dir", str(data), "--out", str(out), *QUICK],
        out,
        "does not match the manifest: expected sha256",
        capsys,
    )
    assert "replace it with a good copy" in err


def test_out_dir_not_writable(unwritable_dir, capsys):
    _cli_refuses(
        ["run", "mnist", "--set", "dataset=digits", "--out", str(unwritable_dir / "run"), *QUICK],
        unwritable_dir,
        "cannot write the run directory",
        capsys,
    )


def test_a_symlink_inside_out_is_refused_and_nothing_is_written_through_it(tmp_path, capsys):
    # out/checkpoints linked elsewhere: best.keras was written through it, outside --out.
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "checkpoints").symlink_to(elsewhere, target_is_directory=True)
    assert main(["run", "mnist", "--set", "dataset=digits", "--out", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a symbolic link (checkpoints -> " in err
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == ["checkpoints"]


def test_a_second_run_into_an_out_that_a_live_run_holds_is_refused_at_once(tmp_path, capsys):
    # Two scripted runs into one --out both "succeeded", and the folder held one run's files.
    from pipelines.run_dir import LOCK_FILE, lock_run_dir

    out = tmp_path / "run"
    out.mkdir()
    release = lock_run_dir(out)  # a live run holds the folder
    try:
        assert main(["run", "mnist", "--set", "dataset=digits", "--out", str(out), *QUICK]) == 2
        assert "is in use by another run" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # the holder's files are untouched
    finally:
        release()
    # A lock file left by a killed run (no process holds it) does not block the next run, which removes it.
    (out / LOCK_FILE).touch()
    assert main(["run", "mnist", "--set", "dataset=digits", "--out", str(out), *QUICK]) == 0
    assert (out / "model.keras").is_file() and not (out / LOCK_FILE).exists()


def test_out_dir_under_a_file(tmp_path, capsys):
    """The unwritable-dir row for root too (root ignores permissions, not a file in the path)."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _cli_refuses(
        ["run", "mnist", "--set", "dataset=digits", "--out", str(blocker / "run"), *QUICK],
        blocker / "run",
        "cannot write the run directory",
        capsys,
    )
    assert blocker.read_text() == "x"


def test_out_dir_that_holds_a_finished_run_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.json").write_text(json.dumps({"status": "ok"}))
    before = (out / "report.json").read_bytes()
    assert main(["run", "mnist", "--set", "dataset=digits", "--out", str(out), *QUICK]) == 2
    err = capsys.readouterr().err
    assert "already holds a finished run (report.json). Pass a new --out DIR" in err
    assert (out / "report.json").read_bytes() == before and _files(out) == [out / "report.json"]


def test_a_user_folder_given_as_out_is_kept_and_left_empty_on_bad_input(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    csv = tmp_path / "data.csv"
    csv.write_bytes(b"")
    assert main(_advertising_cli(csv, out)) == 2
    assert out.is_dir() and list(out.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "mnist", "--set", "epochs=0"], "epochs must be >= 1"),  # refused before the run starts
        (["run", "advertising", "--set", "csv={csv}"], "expected numbers in column 'sales'"),  # after devices
    ],
    ids=["config", "data"],
)
def test_a_fresh_cli_process_prints_one_line_on_a_refused_input(argv, message, tmp_path, python_env):
    # TensorFlow's native start-up lines (oneDNN, CUDA probing, CPU flags, cuInit) are printed
    # even at TF_CPP_MIN_LOG_LEVEL=2, so the test runs without it, as a user's shell does.
    env = {k: v for k, v in python_env.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    csv = tmp_path / "bad.csv"
    csv.write_text("TV,radio,newspaper,sales\n1,2,3,x\n")
    argv = [a.format(csv=csv) for a in argv] + ["--out", str(tmp_path / "run")]
    done = subprocess.run([PYTHON, "-m", "pipelines", *argv], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("pipelines: error:"), done.stderr
    assert message in done.stderr and not (tmp_path / "run").exists()


# ------------------------------------------------------------------ bad input: data passed in memory


def _constant_target(out: str | None) -> None:
    from pipelines.tasks.advertising import run_dataframe

    frame = pd.DataFrame({"TV": np.arange(6.0), "radio": np.arange(6.0), "newspaper": np.arange(6.0), "sales": 1.0})
    run_dataframe(frame, folds=2, epochs=1, out=out, verbose=0)


def _texts(texts: list[str], labels: list[int], **overrides) -> Callable[[str | None], None]:
    def call(out: str | None) -> None:
        from pipelines.tasks.sentiment import run_texts

        run_texts(texts, labels, out=out, epochs=1, verbose=0, **overrides)

    return call


@pytest.mark.parametrize("with_out", [True, False], ids=["out", "default-out"])
@pytest.mark.parametrize(
    "call, message",
    [
        (_constant_target, "expected a threshold inside the target's range"),
        (_texts(["good movie", "bad film", "great", "awful"], [1, 0, 1, 0]), "at least n_splits=10 examples"),
        (_texts(["!!!", "?? ...", "-- <br />"] * 4, [1, 0] * 6, cv_folds=2), "expected words in the training texts"),
        (_texts(["good \ud800 movie", "bad film"] * 4, [1, 0] * 4, cv_folds=2), "expected valid Unicode text"),
    ],
    ids=["constant-target", "too-few-texts-for-folds", "no-words", "lone-surrogate"],
)
def test_refused_in_memory_data_leaves_nothing_behind(call, message, with_out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs without --out go to ./reports/<pipeline>/<stamp>/
    with pytest.raises(DataValidationError, match=message):
        call(str(tmp_path / "run") if with_out else None)
    assert list(tmp_path.iterdir()) == []  # neither input.csv nor a run folder


def test_a_diverged_in_memory_run_keeps_its_data_beside_the_failed_report(tmp_path):
    from pipelines.tasks.advertising import run_dataframe

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.uniform(0, 100, 40) for c in ("TV", "radio", "newspaper")})
    frame["sales"] = 0.1 * frame["TV"] + rng.normal(0, 1, 40)
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError):
        run_dataframe(frame, folds=2, epochs=20, steps_per_execution=5, learning_rate=1e30, out=str(out), verbose=0)
    assert sorted(p.name for p in out.iterdir()) == ["input.csv", "report.html", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and report["config"]["csv"] == str(out / "input.csv")
    kept = pd.read_csv(out / "input.csv")
    np.testing.assert_array_equal(kept.to_numpy(), frame.to_numpy())  # the exact values it trained on


def test_in_memory_data_is_refused_by_pipelines_that_read_files(tmp_path):
    with pytest.raises(
        ConfigError, match="'dcgan' reads its data from files.*taken by: advertising, mnist, sentiment, vit"
    ):
        pipelines.run("dcgan", data=np.zeros((4, 28, 28)), out=str(tmp_path / "r"))
    with pytest.raises(ConfigError, match=r"expected data=\(images, labels\). Received: ndarray"):
        pipelines.run("mnist", data=np.zeros((4, 28, 28)), out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ faults: NaN loss


def test_nan_loss_in_the_first_epoch_fails_clearly_with_a_failed_report(tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "run",
        "mnist",
        "--set",
        "dataset=digits",
        "--set",
        "learning_rate=1e30",
        "--set",
        "warmup_epochs=0",
        "--set",
        "batch_size=64",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--quiet",
        "--device",
        "cpu",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training loss became non-finite at epoch 1" in err
    assert "Lower learning_rate (now 1e+30)" in err and "no good checkpoint" in err
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and report["error"]["type"] == "TrainingDivergedError"
    last_loss = report["history"]["loss"][-1]  # JSON has no NaN: the report writes it as null
    assert report["last_good_checkpoint"] is None and (last_loss is None or not np.isfinite(last_loss))
    # No model of NaN weights, neither as the result nor as the "best" checkpoint; no backup to resume NaNs from.
    assert not (out / "model.keras").exists() and not (out / "checkpoints" / "best.keras").exists()
    assert not (out / "backup").exists()
    # A diverged run may be retried in the same folder (with a lower learning rate).
    runner.make_run_dir(str(out), "mnist")


def test_nan_loss_after_a_good_epoch_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    import keras

    from pipelines.models import load_model
    from pipelines.recipes import image_classifier

    def absurd_after_one_epoch(learning_rate, *, steps_per_epoch, **schedule):
        # The fault: the learning rate jumps to 1e30 once the first epoch is done.
        jump = keras.optimizers.schedules.PiecewiseConstantDecay([steps_per_epoch], [learning_rate, 1e30])
        return keras.optimizers.Adam(learning_rate=jump)

    monkeypatch.setattr(image_classifier, "make_optimizer", absurd_after_one_epoch)
    out = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="non-finite at epoch 2.*last good checkpoint"):
        pipelines.run(
            "mnist", dataset="digits", epochs=3, batch_size=64, verbose=0, out=str(out), early_stopping_patience=0
        )
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and len(report["history"]["loss"]) == 2
    first, second = report["history"]["loss"]
    assert np.isfinite(first) and (second is None or not np.isfinite(second))
    best = Path(report["last_good_checkpoint"])
    assert best == out / "checkpoints" / "best.keras"
    weights = load_model(best).get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert not (out / "model.keras").exists()


# ------------------------------------------------------------------ faults: interrupted writes


def test_an_interrupted_report_write_leaves_no_report_json(tmp_path, monkeypatch):
    from pipelines.evaluation.report import Report

    report = Report("mnist")
    report.add_metrics({"accuracy": 0.5})
    real_replace = os.replace

    def crash_on_report_json(src, dst):
        if str(dst).endswith("report.json"):
            raise KeyboardInterrupt("planted Ctrl-C")  # the user presses Ctrl-C just before the rename
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", crash_on_report_json)
    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        report.write(tmp_path)
    assert not (tmp_path / "report.json").exists() and not list(tmp_path.glob(".tmp-*"))


def test_an_interrupted_model_save_leaves_no_model_keras(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    class Interrupted(keras.Model):
        def save(self, path, *args, **kwargs):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")  # Keras was half-way through writing
            raise KeyboardInterrupt("planted Ctrl-C")

    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        run_outputs.save_model(Interrupted.__new__(Interrupted), tmp_path / "model.keras")
    assert not (tmp_path / "model.keras").exists() and not list(tmp_path.glob(".tmp-*"))
    run_outputs.save_model(model, tmp_path / "model.keras")
    assert zipfile.is_zipfile(tmp_path / "model.keras")


KILL_WRITER = """
import json, sys
from pipelines import atomic
path, n = sys.argv[1], 0
print("ready", flush=True)
while True:  # alternately write two large, different documents under the same name
    atomic.write_text(path, json.dumps({"n": n, "pad": "x" * 4_000_000}))
    n += 1
"""


def test_sigkill_during_report_writes_never_leaves_a_partial_report(tmp_path, python_env):
    """Kills a writer 12 times at random instants; report.json is always absent or whole."""
    path = tmp_path / "report.json"
    rng = np.random.default_rng(0)
    partial, writes_seen = 0, set()
    for _ in range(12):
        proc = subprocess.Popen(
            [PYTHON, "-c", KILL_WRITER, str(path)], env=python_env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if path.exists():
            try:
                doc = json.loads(path.read_text())
                writes_seen.add(doc["n"])
            except ValueError:
                partial += 1
    assert partial == 0
    assert writes_seen, "the writer never finished a write: the test did not exercise anything"


# ------------------------------------------------------------------ faults: concurrent runs


def test_concurrent_runs_in_the_same_second_get_distinct_dirs(tmp_path, monkeypatch):
    """Eight threads start a run in the same (frozen) second; each gets its own directory."""
    import datetime as dt

    frozen = dt.datetime(2026, 1, 2, 3, 4, 5)
    fake_dt = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda *a: frozen), timezone=dt.timezone)
    monkeypatch.setattr(run_dir, "_dt", fake_dt)
    monkeypatch.chdir(tmp_path)
    barrier, dirs, errors = threading.Barrier(8), [], []

    def start() -> None:
        barrier.wait()
        try:
            dirs.append(runner.make_run_dir(None, "mnist"))
        except Exception as e:  # noqa: BLE001  (collected and asserted below)
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(dirs)) == 8
    assert {d.name for d in dirs} == {"20260102-030405"} | {f"20260102-030405-{i}" for i in range(2, 9)}


CONCURRENT_STARTER = """
import sys, time, datetime as dt, types
from pipelines import run_dir, runner
frozen = dt.datetime(2026, 1, 2, 3, 4, 5)
run_dir._dt = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda *a: frozen), timezone=dt.timezone)
start = float(sys.argv[1])
while time.time() < start:
    pass
print(runner.make_run_dir(None, "mnist"))
"""


def test_concurrent_processes_in_the_same_second_get_distinct_dirs(tmp_path, python_env):
    start = time.time() + 3.0  # every process is up and spinning by then
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", CONCURRENT_STARTER, str(start)],
            cwd=tmp_path,
            env=python_env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    dirs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(dirs)) == 4 and all((tmp_path / d).is_dir() for d in dirs)


# ------------------------------------------------------------------ untrusted files


def test_cli_evaluate_refuses_a_model_with_a_lambda_layer(tmp_path, capsys):
    import keras

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=(1, 2)))(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    out = tmp_path / "ev"
    _cli_refuses(
        ["evaluate", "mnist", "--model", str(path), "--out", str(out), "--set", "dataset=digits", "--quiet"],
        out,
        "refused to load",
        capsys,
    )
    assert not out.exists()


def _saved(path: Path, shape: tuple, units: int, dtype: str = "float32") -> Path:
    import keras

    inputs = keras.Input(shape, dtype=dtype)
    x = keras.layers.Flatten()(inputs) if len(shape) > 1 else inputs
    keras.Model(inputs, keras.layers.Dense(units)(x)).save(path)
    return path


@pytest.mark.parametrize(
    "pipeline, shape, units, settings, message",
    [
        ("mnist", (32, 32, 3), 10, ["dataset=digits"], "feeds the model 1 input(s): float (batch, 28, 28, 1)"),
        ("mnist", (28, 28, 1), 3, ["dataset=digits"], "scores one output of shape (batch, 10)"),
        ("vit", (28, 28, 1), 11, ["dataset=digits"], "scores one output of shape (batch, 10)"),
        ("advertising", (3,), 3, ["csv={csv}"], "Received a model with 1 output(s) of shape (batch, 3)"),
        ("advertising", (4,), 1, ["csv={csv}"], "float (batch, 3). Received a model taking float (batch, 4)"),
        ("sentiment", (1,), 1, ["dataset=custom", "custom_csv={texts}"], "string (batch, 1)"),
        ("denoising_autoencoder", (28, 28, 1), 10, [], "output of shape (batch, 28, 28, 1)"),
        ("dcgan", (28, 28, 1), 10, [], "float (batch, any)"),
    ],
    ids=[
        "mnist-input",
        "mnist-classes",
        "vit-classes",
        "advertising-3-outputs",
        "advertising-features",
        "sentiment-not-strings",
        "dae-output",
        "dcgan-input",
    ],
)
def test_cli_evaluate_refuses_a_model_that_does_not_fit_the_task(
    pipeline, shape, units, settings, message, tmp_path, capsys
):
    csv, texts = tmp_path / "ads.csv", tmp_path / "texts.csv"
    csv.write_text("TV,radio,newspaper,sales\n" + "".join(f"{i},{i + 1},{i + 2},{i % 7}\n" for i in range(12)))
    texts.write_text("text,label\n" + "good film,1\nbad film,0\n" * 6)
    model = _saved(tmp_path / "wrong.keras", shape, units)
    out = tmp_path / "ev"
    argv = ["evaluate", pipeline, "--model", str(model), "--out", str(out), "--quiet"]
    for setting in settings:
        argv += ["--set", setting.format(csv=csv, texts=texts)]
    _cli_refuses(argv, out, message, capsys)
    assert not out.exists()


def test_old_keras_with_safe_mode_bypasses_is_refused(tmp_path, monkeypatch):
    import keras

    from pipelines.models import load_model

    monkeypatch.setattr(keras, "__version__", "3.11.2")
    with pytest.raises(ModelLoadError, match=r"Keras 3.11.2: its safe_mode can be bypassed.*keras>=3.14"):
        load_model(tmp_path / "any.keras")


def test_manifest_names_cannot_leave_the_data_dir():
    from pipelines.inputs.manifest import parse_manifest

    digest = "0" * 64
    for field, value in [
        ("name", "../x.gz"),
        ("name", "/etc/passwd"),
        ("name", "a/b"),
        ("archive_member", "data/../../x"),
        ("subdir", "../up"),
    ]:
        entry = {"name": "ok.gz", "sha256": digest, "size": 1, field: value}
        dataset = {"subdir": value if field == "subdir" else "toy", "files": [entry]}
        if field == "subdir":
            entry.pop("subdir")
        with pytest.raises(ConfigError, match="single plain path component"):
            parse_manifest({"datasets": {"toy": dataset}})


def test_a_downloaded_archive_with_traversal_names_writes_nothing_outside_the_cache(tmp_path, monkeypatch):
    """A served .tar.gz holds `../../escape.txt` and the wanted member; only the member lands, in the cache."""
    import hashlib
    import http.server

    from pipelines.inputs.manifest import parse_manifest
    from pipelines.inputs.sources import resolve_dataset

    wanted = b"the real content\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("../../escape.txt", b"owned"), ("/tmp/abs-escape.txt", b"owned"), ("pkg/data.txt", wanted)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    served = tmp_path / "served"
    served.mkdir()
    (served / "pkg.tar.gz").write_bytes(buf.getvalue())

    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pkg.tar.gz"
        manifest = parse_manifest(
            {
                "datasets": {
                    "toy": {
                        "subdir": "toy",
                        "files": [
                            {
                                "name": "data.txt",
                                "sha256": hashlib.sha256(wanted).hexdigest(),
                                "size": len(wanted),
                                "urls": [url],
                                "archive_member": "pkg/data.txt",
                            }
                        ],
                    }
                }
            }
        )
        cache = tmp_path / "a" / "b" / "cache"
        monkeypatch.setenv("PIPELINES_CACHE_DIR", str(cache))
        monkeypatch.delenv("PIPELINES_OFFLINE")
        monkeypatch.delenv("PIPELINES_DATA_DIR", raising=False)
        found = resolve_dataset("toy", manifest=manifest)
    finally:
        server.shutdown()
    assert found.source == "download" and found.files["data.txt"].read_bytes() == wanted
    assert sorted(p.name for p in _files(tmp_path) if "served" not in p.parts) == ["data.txt"]
    assert not Path("/tmp/abs-escape.txt").exists()


def test_backup_metadata_cannot_point_outside_the_backup(tmp_path):
    import keras

    from pipelines.training import AtomicBackupAndRestore

    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "weights": "../../x.weights.h5"}))
    callback = AtomicBackupAndRestore(str(backup))
    callback.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(OSError, match="invalid weights file"):
        callback._load_model()


def test_every_error_of_the_catalogue_is_a_pipelines_error():
    """The CLI turns exactly these into one line; a builtin parent lets callers catch by meaning too."""
    for cls, builtin in [
        (UnknownPipelineError, LookupError),
        (ConfigError, ValueError),
        (DataValidationError, ValueError),
        (ChecksumMismatch, ValueError),
        (OutputDirError, OSError),
        (ModelLoadError, ValueError),
        (TrainingDivergedError, RuntimeError),
    ]:
        assert issubclass(cls, PipelinesError) and issubclass(cls, builtin)


def test_an_interrupted_checkpoint_save_keeps_the_previous_best(tmp_path):
    """A kill while Keras saves a better epoch leaves the previous best.keras whole."""
    import keras

    from pipelines.models import load_model
    from pipelines.training import AtomicModelCheckpoint

    best = tmp_path / "best.keras"
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    checkpoint = AtomicModelCheckpoint(str(best), monitor="val_loss", save_best_only=True)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(0, {"val_loss": 1.0})
    saved = best.read_bytes()

    def torn_save(path, *args, **kwargs):
        Path(path).write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("planted Ctrl-C")

    model.save = torn_save
    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        checkpoint.on_epoch_end(1, {"val_loss": 0.5})  # better: Keras starts to save it
    assert best.read_bytes() == saved and not list(tmp_path.glob(".tmp-*"))
    assert load_model(best).count_params() == 3


def test_the_saved_text_model_gives_nan_for_texts_without_a_known_word(tmp_path):
    import tensorflow as tf

    from pipelines.inputs.text_dataset import make_vectorizer
    from pipelines.models import load_model
    from pipelines.nets.rnn import make_text_rnn
    from pipelines.recipes.text_classifier import make_end_to_end

    vectorizer = make_vectorizer(np.array(["a good film", "a bad film"]), max_tokens=20, sequence_length=8)
    model = make_end_to_end(vectorizer, make_text_rnn(vectorizer.vocabulary_size(), embed_dim=8, units=(4,)))
    model.save(tmp_path / "m.keras")
    texts = tf.constant([["a good film"], [""], ["?! ..."], ["unseen words only"], ["unseen but good"]])
    for m in (model, load_model(tmp_path / "m.keras")):  # the saved model keeps the rule
        p = m.predict(texts, verbose=0)[:, 0]
        assert np.isnan(p).tolist() == [False, True, True, True, False]
        assert np.all((p[[0, 4]] > 0) & (p[[0, 4]] < 1))
    # `evaluate` scores the texts it predicts and says how many it could not.
    csv = tmp_path / "texts.csv"
    csv.write_text("text,label\n" + "a good film,1\na bad film,0\n?!,1\nunseen words,0\n" * 3)
    result = runner.evaluate(
        "sentiment", tmp_path / "m.keras", dataset="custom", custom_csv=str(csv), out=str(tmp_path / "ev"), verbose=0
    )
    assert result.report["dataset"]["not_scored"] == 6 and 0 <= result.metrics["accuracy"] <= 1
    assert "6 without a known word not scored" in (tmp_path / "ev" / "report.md").read_text()
