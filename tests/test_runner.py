"""Tests of pipelines.runner: run directories, the report contract, evaluate, RunResult.

The end-to-end runs here use scikit-learn's bundled `digits` (no files needed), one
short epoch; the real-MNIST run is in test_mnist_pipeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pipelines
from pipelines.errors import ConfigError, DatasetUnavailable, ModelLoadError, OutputDirError
from pipelines.runner import make_run_dir

QUICK = dict(dataset="digits", epochs=1, verbose=0, batch_size=64)


def test_default_run_dirs_are_distinct_within_one_second(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dirs = {make_run_dir(None, "mnist") for _ in range(3)}
    assert len(dirs) == 3 and all(d.parent == Path("reports/mnist") for d in dirs)


def test_unwritable_out_dir_is_refused_before_work(unwritable_dir):
    with pytest.raises(OutputDirError, match="cannot write the run directory"):
        pipelines.run("mnist", out=str(unwritable_dir / "run"), **QUICK)
    assert list(unwritable_dir.iterdir()) == []


def test_out_dir_under_a_file_is_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputDirError, match="cannot write the run directory.*--out"):
        pipelines.run("mnist", out=str(blocker / "run"), **QUICK)


def test_bad_override_is_refused_before_a_run_dir_exists(tmp_path):
    with pytest.raises(ConfigError, match="batch_size must be of type int"):
        pipelines.run("mnist", out=str(tmp_path / "run"), batch_size="big")
    assert not (tmp_path / "run").exists()


def test_run_takes_a_config_instance(tmp_path):
    with pytest.raises(ConfigError, match="not the config of any registered pipeline"):
        pipelines.run(pipelines.config.TrainConfig())
    with pytest.raises(ConfigError, match="takes a pipeline name or its config"):
        pipelines.run(42)


def test_missing_dataset_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PIPELINES_DATA_DIR", raising=False)
    with pytest.raises(DatasetUnavailable, match="train-images-idx3-ubyte.gz"):
        pipelines.run("mnist", out=str(tmp_path / "run"), epochs=1, verbose=0)


@pytest.mark.parametrize("out", [None, "deep/er/run"])
def test_a_run_stopped_by_missing_data_leaves_no_folders(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")
    (tmp_path / "kept").mkdir()
    with pytest.raises(DatasetUnavailable, match="Dataset 'mnist' .* is not available"):
        pipelines.run("mnist", out=out, epochs=1, verbose=0)
    with pytest.raises(DatasetUnavailable, match="Dataset 'mnist' .* is not available"):
        pipelines.run("mnist", out="kept/run", epochs=1, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]
    assert not any((tmp_path / "kept").iterdir())  # the user's folder stays, emptied of the run's


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    return pipelines.run("mnist", out=str(out), deterministic=True, **QUICK)


def test_op_determinism_is_recorded_and_switched_off_after_the_run(digits_run):
    from tensorflow.python.framework import config as tf_config

    assert digits_run.report["environment"]["op_determinism"] is True
    assert not tf_config.is_op_determinism_enabled()


def test_run_result_and_files(digits_run):
    r = digits_run
    assert r.config.dataset == "digits" and r.metrics["accuracy"] > 0.3
    for name in (
        "report.json",
        "report.md",
        "report.html",
        "model.keras",
        "model_card.json",
        "confusion_matrix.png",
        "roc_curves.png",
        "pr_curves.png",
        "reliability.png",
        "learning_curves.png",
        "confident_mistakes.png",
    ):
        assert (r.report_dir / name).is_file(), name
    assert not list(r.report_dir.glob(".tmp-*"))
    assert set(r.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}


def test_report_json_contract(digits_run):
    report = json.loads((digits_run.report_dir / "report.json").read_text())
    assert {"pipeline", "dataset", "config", "metrics", "history", "timings", "environment"} <= set(report)
    assert report["pipeline"] == "mnist" and report["status"] == "ok"
    assert report["dataset"]["name"] == "digits"
    assert set(report["dataset"]["splits"]) == {"train", "validation", "test"}
    assert "checksum_verified" in report["dataset"]
    assert {"train_seconds", "eval_seconds", "total_seconds"} <= set(report["timings"])
    assert report["timings"]["total_seconds"] >= report["timings"]["train_seconds"] > 0
    env = report["environment"]
    for key in ("python", "tensorflow", "keras", "devices", "strategy", "precision_policy"):
        assert env[key], key
    names = {
        "accuracy",
        "f1_macro",
        "f1_micro",
        "f1_weighted",
        "precision_macro",
        "recall_macro",
        "roc_auc_ovr_macro",
        "roc_auc_ovr_micro",
        "average_precision_macro",
        "log_loss",
        "brier",
        "ece",
    }
    names |= {f"f1_class_{k}" for k in range(10)} | {f"roc_auc_class_{k}" for k in range(10)}
    assert names <= set(report["metrics"])
    assert all(isinstance(v, float) for v in report["metrics"].values())
    assert report["config"]["epochs"] == 1 and report["config"]["augment"]["use_augmentation"] is True
    assert len(report["history"]["loss"]) == 1


def test_markdown_and_html_carry_the_same_content(digits_run):
    md = (digits_run.report_dir / "report.md").read_text()
    html = (digits_run.report_dir / "report.html").read_text()
    for text in ("accuracy", "roc_auc_ovr_macro", "ece", "Confusion matrix", "digits"):
        assert text in md and text in html, text
    assert html.count("data:image/png;base64,") >= 7


def test_model_card(digits_run):
    card = json.loads((digits_run.report_dir / "model_card.json").read_text())
    assert card["pipeline"] == "mnist" and "safe_mode=True" in card["load_with"]
    assert card["class_names"] == [str(i) for i in range(10)] and card["parameters"] > 0
    assert card["metrics"]["accuracy"] == digits_run.metrics["accuracy"]


def test_evaluate_a_saved_model_reproduces_its_test_metrics(digits_run, tmp_path):
    result = pipelines.evaluate(
        "mnist", digits_run.report_dir / "model.keras", out=str(tmp_path / "ev"), dataset="digits", verbose=0
    )
    assert result.metrics["accuracy"] == pytest.approx(digits_run.metrics["accuracy"])
    assert (tmp_path / "ev" / "report.html").is_file() and not (tmp_path / "ev" / "model.keras").exists()


def test_evaluate_refuses_a_missing_model(tmp_path):
    with pytest.raises(ModelLoadError, match="no model file"):
        pipelines.evaluate("mnist", tmp_path / "none.keras", out=str(tmp_path / "ev"))


def test_report_links_its_files(digits_run):
    report = json.loads((digits_run.report_dir / "report.json").read_text())
    rows = {row["what"]: row for row in report["tables"]["Files of this run"]}
    assert rows["Saved model"]["link"] == {"text": "model.keras", "href": "model.keras"}
    assert "TensorBoard logs" not in rows and "tensorboard_logdir" not in report  # none written
    assert (digits_run.report_dir / "predictions.npz").is_file() and report["created"].endswith("+00:00")
    assert '<a href="model_card.json">model_card.json</a>' in (digits_run.report_dir / "report.html").read_text()


def test_tensorboard_logs_are_linked_when_written(tmp_path):
    # Unit-level: TensorBoard itself is not a dependency (tensorboard=True needs `pip install tensorboard`).
    from pipelines.evaluation.report import Report
    from pipelines.run_outputs import add_links

    (tmp_path / "tensorboard" / "train").mkdir(parents=True)
    report = Report("demo")
    add_links(report, tmp_path)
    row = report.to_dict()["tables"]["Files of this run"][0]
    logs = (tmp_path / "tensorboard").resolve()
    assert row == {
        "what": "TensorBoard logs",
        "link": {"text": "tensorboard/", "href": "tensorboard/"},
        "open with": f"tensorboard --logdir {logs}",
    }
    assert report.extra["tensorboard_logdir"] == str(logs)


def test_tensorboard_without_the_package_is_refused_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match=r"keras-pipelines\[tensorboard\]"):
        pipelines.run("mnist", tensorboard=True, out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_verbose_run_ends_with_its_metrics_then_the_report_path(tmp_path, capsys):
    from types import SimpleNamespace

    from pipelines.run_outputs import print_done

    print_done(SimpleNamespace(verbose=1), tmp_path, {"accuracy": 0.5, "accuracy_ci_low": 0.4, "f1_class_0": 1.0})
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["accuracy=0.5000", f"Report: {(tmp_path / 'report.html').resolve()}"]
    print_done(SimpleNamespace(verbose=0), tmp_path, {"accuracy": 0.5})
    assert capsys.readouterr().out == ""
