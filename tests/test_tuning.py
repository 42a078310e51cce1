"""`pipelines tune`: search spaces checked before any work, studies of runs that resume, and the final run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest

import pipelines
from pipelines.cli import main
from pipelines.errors import ConfigError, OutputDirError
from pipelines.tasks.advertising import AdvertisingConfig
from pipelines.tasks.mnist import MnistConfig
from pipelines.tuning.space import parse_dimension, parse_space
from pipelines.tuning.study import STUDY_DB, tunable_pipelines

# Quick advertising trials: three folds, a few hundred full-batch steps.
# (XLA off: compiling costs more than these few hundred steps; measured 4.1 s a run against 9.9 s.)
QUICK = {"folds": 3, "epochs": 300, "linear_epochs": 50, "steps_per_execution": 100, "jit_compile": False, "verbose": 0}


def test_specs_become_dimensions_of_the_fields_type():
    config = AdvertisingConfig()
    space = parse_space(
        config,
        {
            "learning_rate": "log:1e-4:1e-2",
            "input_noise": "float:0:0.3",
            "epochs": "int:100:900",
            "activation": "choice:silu,tanh",
            "widths": "choice:64,64|32,32,32",
        },
    )
    assert [d.kind for d in space.values()] == ["log", "float", "int", "choice", "choice"]
    assert (space["epochs"].low, space["epochs"].high) == (100, 900)
    assert space["widths"].choices == ("64,64", "32,32,32")
    trial = optuna.trial.FixedTrial({"widths": "32,32,32", "learning_rate": 0.003, "epochs": 200})
    assert space["widths"].suggest(trial, config) == (32, 32, 32)
    assert space["learning_rate"].suggest(trial, config) == 0.003 and space["epochs"].suggest(trial, config) == 200
    assert (
        space["widths"].spelling_of((32, 32, 32), config) == "32,32,32"
        and space["epochs"].spelling_of(4000, config) is None
    )
    nested = parse_dimension(MnistConfig(), "augment.strength", "float:0:2")
    assert (nested.low, nested.high) == (0.0, 2.0)


@pytest.mark.parametrize(
    ("key", "spec", "message"),
    [
        ("learning_rat", "log:1e-4:1e-2", "unknown config key 'learning_rat'"),
        ("learning_rate", "uniform:0:1", "expected log:LOW:HIGH, float:LOW:HIGH"),
        ("input_noise", "log:0:0.1", "a log scale needs LOW > 0"),
        ("learning_rate", "log:1e-2:1e-4", "expected LOW < HIGH"),
        ("learning_rate", "float:-1:1", "learning_rate must be > 0"),
        ("learning_rate", "int:1:5", "learning_rate is a float"),
        ("activation", "float:0:1", "activation is not a number; search it with choice"),
        ("activation", "choice:silu,swish", "activation must be one of"),
        ("activation", "choice:silu", "at least two choices"),
        ("epochs", "int:1:x", "epochs must be of type int"),
        ("input_noise", "log:1e-3", "expected log:LOW:HIGH"),
        ("epochs", "float:100:900", "epochs is an integer; use int:LOW:HIGH"),
    ],
)
def test_bad_specs_are_refused_naming_the_spec(key, spec, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_dimension(AdvertisingConfig(), key, spec)
    assert key in str(caught.value)


def test_a_study_is_refused_before_any_work(tmp_path):
    assert set(tunable_pipelines()) == {"advertising", "denoising_autoencoder", "mnist", "sentiment", "vit"}
    with pytest.raises(ConfigError, match="cannot be tuned yet. Tunable: advertising, denoising_autoencoder, mnist"):
        pipelines.tune("dcgan", out=str(tmp_path / "a"))
    with pytest.raises(ConfigError, match="both searched .* and set"):
        pipelines.tune("advertising", space={"epochs": "int:100:200"}, epochs=300, out=str(tmp_path / "b"))
    with pytest.raises(ConfigError, match="augment.strength are both searched"):
        pipelines.tune(
            "mnist", space={"augment.strength": "float:0:1"}, augment={"strength": 0.5}, out=str(tmp_path / "b")
        )
    with pytest.raises(ConfigError, match="expected --metric NAME or NAME:maximize"):
        pipelines.tune("advertising", metric="cv_r2_mean:up", out=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match="folds must be >= 2"):
        pipelines.tune("advertising", folds=1, out=str(tmp_path / "d"))
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="a study folder to resume"):
        pipelines.tune("advertising", out=str(tmp_path / "e"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]  # nothing made for the refused studies


def test_cli_tune_refuses_a_bad_spec_with_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["tune", "advertising", "--space", "learning_rate=log:0:1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--space learning_rate=log:0:1: learning_rate must be > 0" in err[0]
    assert not out.exists()


@pytest.mark.realdata
def test_a_study_runs_resumes_and_runs_its_best_configuration_again(real_data_dir, tmp_path):
    out = tmp_path / "study"
    space = {"learning_rate": "log:1e-3:3e-2", "activation": "choice:silu,relu"}
    first = pipelines.tune("advertising", trials=2, space=space, out=str(out), data_dir=str(real_data_dir), **QUICK)
    assert (out / STUDY_DB).is_file() and len(first.trials) == 2
    # The first trial is the untuned configuration, so the best is never worse than not tuning.
    # (the space given, over the default space less the epochs QUICK sets)
    untuned = {"learning_rate": 0.001, "activation": "silu", "input_noise": 0.0, "widths": [64, 64, 64]}
    assert first.trials[0]["params"] == untuned and first.trials[0]["defaults"]
    assert first.best_value >= first.trials[0]["value"]
    # Resumed: the two finished trials stay, one more runs.
    second = pipelines.tune("advertising", trials=3, space=space, out=str(out), data_dir=str(real_data_dir), **QUICK)
    assert [t["number"] for t in second.trials] == [0, 1, 2]
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0000", "0001", "0002"]
    values = [t["value"] for t in second.trials if t["state"] == "complete"]
    assert second.best_value == max(values) and second.metric == ("cv_r2_mean", "maximize")
    # Each trial is an ordinary run, scored by its own report's metric.
    for trial in second.trials:
        report = json.loads((out / trial["run_dir"] / "report.json").read_text())
        assert report["metrics"]["cv_r2_mean"] == pytest.approx(trial["value"])
        assert report["config"]["learning_rate"] == pytest.approx(trial["params"]["learning_rate"])
    # The best configuration ran again, as its own run, with the same score (same seed and folds).
    assert second.best_run_dir.name == f"best-{max(second.trials, key=lambda t: t['value'] or -9)['number']:04d}"
    best = json.loads((second.best_run_dir / "report.json").read_text())
    assert best["config"]["activation"] == second.best_params["activation"]
    assert best["metrics"]["cv_r2_mean"] == pytest.approx(second.best_value, abs=1e-6)
    summary = json.loads((out / "tune.json").read_text())
    assert summary["best_value"] == second.best_value and len(summary["trials"]) == 3
    html = (out / "report.html").read_text()
    assert "trials/0002/report.html" in html and f"{second.best_run_dir.name}/report.html" in html
    assert "data:image/png;base64" in html
    # A metric the runs do not compute stops the study after one trial, naming the ones they do.
    with pytest.raises(pipelines.PipelinesError, match="no finite 'nope'; choose --metric from: .*cv_r2_mean"):
        pipelines.tune(
            "advertising", trials=3, metric="nope", out=str(tmp_path / "nope"), data_dir=str(real_data_dir), **QUICK
        )
    assert [p.name for p in (tmp_path / "nope" / "trials").iterdir()] == ["0000"]
    # Another space in the same folder is another study: refused.
    with pytest.raises(ConfigError, match="holds another study"):
        pipelines.tune("advertising", trials=3, space={"input_noise": "float:0:0.1"}, out=str(out), **QUICK)


def _tune_command(out, data_dir, trials):
    sets = [f"--set={k}={v}" for k, v in {**QUICK, "data_dir": data_dir}.items() if k != "verbose"]
    return [sys.executable, "-m", "pipelines", "tune", "advertising", f"--trials={trials}", f"--out={out}", *sets]


def _wait_for(path, process, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


@pytest.mark.realdata
@pytest.mark.slow
def test_a_study_killed_mid_trial_is_finished_by_two_processes_that_retry_the_killed_trial(real_data_dir, tmp_path):
    out = tmp_path / "study"
    command = [*_tune_command(out, real_data_dir, 4), "--heartbeat=1"]
    killed = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(out / "trials" / "0000", killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    # The same command, twice at once: both work on the study; the killed trial is found stale
    # (silent for 4 heartbeats), failed and run again with the same values.
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in workers]
    assert [p.returncode for p in workers] == [0, 0], [o[1][-2000:] for o in outputs]
    summary = json.loads((out / "tune.json").read_text())
    trials = {t["number"]: t for t in summary["trials"]}
    assert trials[0]["state"] == "fail" and trials[0]["error"] is None  # killed, not a failing configuration
    retried = [t for n, t in trials.items() if n > 0 and t["params"] == trials[0]["params"]]
    assert retried and retried[0]["state"] == "complete"
    complete = [t for t in trials.values() if t["state"] == "complete"]
    assert 4 <= len(complete) <= 5  # a process stops once the study has 4; the other may finish a 5th
    assert len({t["worker"] for t in complete}) == 2  # both processes ran trials
    best_lines = [line for stdout, _ in outputs for line in stdout.splitlines() if line.startswith("Best ")]
    assert len(best_lines) == 2 and best_lines[0] == best_lines[1]  # one study, one answer


def test_a_trial_reports_each_epoch_and_its_fit_stops_when_the_pruner_says(tmp_path):
    import keras

    from pipelines.training import make_callbacks, watching_epochs
    from pipelines.tuning.study import _pruning_callback

    class Trial:
        def __init__(self):
            self.reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return len(self.reported) == 2  # behind the others after its second epoch

    trial = Trial()
    pruner = _pruning_callback(trial, "val_accuracy")
    with watching_epochs(pruner):
        assert pruner in make_callbacks(tmp_path / "a")
    assert pruner not in make_callbacks(tmp_path / "b")  # only inside the block
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.zeros((8, 2), "float32"), np.zeros(8, "int32")
    history = model.fit(x, y, validation_data=(x, y), epochs=5, callbacks=[pruner], verbose=0)
    assert len(history.history["loss"]) == 2 and pruner.pruned_at == 1
    assert [step for step, _ in trial.reported] == [0, 1]


def test_trial_runs_of_the_classifiers_read_no_held_out_data(tmp_path):
    from synthetic_images import colour_squares
    from synthetic_texts import polar_texts

    from pipelines.tasks.sentiment import run_texts

    images, labels = colour_squares(per_class=12, size=12)
    image_run = pipelines.run(
        "mnist",
        data=(images, labels),
        test_evaluation=False,
        epochs=2,
        filters=(8,),
        stem_filters=8,
        out=str(tmp_path / "images"),
        verbose=0,
    )
    assert "accuracy" not in image_run.metrics and image_run.history["val_accuracy"]  # scored on validation
    assert json.loads((image_run.report_dir / "model_card.json").read_text())["class_names"]  # still usable
    texts, text_labels = polar_texts(80)
    text_run = run_texts(
        texts, text_labels, class_names=["neg", "pos"], test_evaluation=False, epochs=1, out=str(tmp_path / "texts")
    )
    report = json.loads((text_run.report_dir / "report.json").read_text())
    assert "Cross-validation folds" not in report["tables"] and "cv_accuracy_mean" not in report["metrics"]
    assert text_run.history["val_accuracy"] and not (text_run.report_dir / "folds").exists()
