"""Tests of the `pipelines` command: exit codes, one-line errors, a real run."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import PYTHON

from pipelines.cli import main


def test_list(capsys):
    assert main(["list"]) == 0
    assert "mnist" in capsys.readouterr().out.split()


def test_config_prints_fields_with_docs(capsys):
    assert main(["config", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "augment.rotation" in out and "Maximum number of training epochs" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "nope"], "unknown pipeline 'nope'. Available pipelines:"),
        (["run", "mnist", "--set", "epochs=-1"], "epochs must be >= 1. Received: epochs=-1"),
        (["run", "mnist", "--set", "batch_size=big"], "batch_size must be of type int"),
        (["run", "mnist", "--set", "epoch=2"], "unknown config key 'epoch'"),
        (["run", "mnist", "--set", "noequals"], "expected key=value"),
        (["run", "mnist", "--device", "tpu"], "device must be auto, cpu, gpu"),
        (["run", "mnist", "--set", "dataset=cifar"], "dataset must be one of"),
        (["evaluate", "mnist", "--model", "/nonexistent/m.keras"], "no model file"),
        (["run", "mnist", "--worker-index", "1"], "worker_index needs workers: pass --workers"),
        (["run", "mnist", "--workers", "localhost", "--worker-index", "0"], "must be host:port"),
        (["run", "mnist", "--workers", "a:1,b:1", "--worker-index", "2"], "worker_index must be in 0..1"),
        (["run", "mnist", "--workers", "a:1,b:1"], "workers needs worker_index"),
        (
            ["run", "mnist", "--workers", "a:1,b:1", "--worker-index", "0", "--device", "cpu:0,1"],
            "a multi-worker run uses every local GPU",
        ),
        (
            ["run", "dcgan", "--workers", "a:1,b:1", "--worker-index", "0"],
            "pipeline 'dcgan' cannot train on several workers yet",
        ),
        # The last of two values no longer wins silently; a seed past numpy's range fails here, not mid-run.
        (
            ["run", "mnist", "--set", "epochs=-1", "--set", "epochs=2"],
            "epochs is given twice (--set epochs=-1 and --set epochs=2); give it once",
        ),
        (
            ["run", "mnist", "--epochs", "3", "--set", "epochs=5"],
            "epochs is given twice (--set epochs=5 and --epochs 3)",
        ),
        (["run", "mnist", "--seed", "99999999999"], "seed must be <= 4294967295"),
        (["run", "mnist", "--set", "epochs=1000000000"], "epochs must be <= 10000"),
        (["run", "advertising", "--set", "epochs=1000000000"], "epochs must be <= 1000000"),
        (
            ["run", "mnist", "--set", "filters=8,8,8,8", "--set", "convs=2,2,2,2"],
            "28x28 images leave no feature map after 4 stages",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pipelines: error:") and message in err
    assert "Traceback" not in err


def test_argparse_errors_also_exit_2(capsys):
    with pytest.raises(SystemExit, match="^2$"):
        main(["run", "mnist", "--epochs", "three"])
    assert capsys.readouterr().err.count("\n") == 1


def test_debug_shows_the_traceback():
    from pipelines.errors import ConfigError

    with pytest.raises(ConfigError, match=r"epochs must be >= 1\. Received: epochs=-1"):
        main(["--debug", "run", "mnist", "--set", "epochs=-1"])


def test_console_script_runs_the_demo_fallback_and_evaluates(tmp_path, python_env):
    """The installed entry point end to end, in one subprocess: with no MNIST files and offline, the
    demo's `--fallback-dataset digits` trains on digits and says so; then `evaluate` (in process:
    the entry point is already proven) reproduces the saved model's metrics."""
    env = dict(python_env, PIPELINES_DATA_DIR=str(tmp_path / "empty"), PIPELINES_OFFLINE="1")
    out = tmp_path / "run"
    cmd = [
        PYTHON,
        "-m",
        "pipelines",
        "run",
        "mnist",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--fallback-dataset",
        "digits",
        "--set",
        "augment.zoom=0.05",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--quiet",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["name"] == "digits" and report["dataset"]["fallback_for"] == "mnist"
    assert "'mnist' was unavailable" in (out / "report.md").read_text()
    assert report["config"]["seed"] == 3 and report["config"]["augment"]["zoom"] == 0.05
    assert report["config"]["verbose"] == 0 and report["environment"]["devices"]
    # --quiet prints one line: where the report is.
    assert done.stdout.strip().splitlines()[-1] == f"Report: {(out / 'report.html').resolve()}"

    argv = ["evaluate", "mnist", "--model", str(out / "model.keras"), "--out", str(tmp_path / "ev")]
    assert main([*argv, "--set", "dataset=digits", "--quiet"]) == 0
    again = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert again["metrics"]["accuracy"] == pytest.approx(report["metrics"]["accuracy"])
