"""`track=mlflow`: a finished run, and a tuning study with its trials as child runs, read back with MLflow's client."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import pipelines
from pipelines.errors import ConfigError

QUICK = {
    "folds": 3,
    "epochs": 40,
    "linear_epochs": 40,
    "steps_per_execution": 20,
    "widths": (8,),
    "jit_compile": False,
    "verbose": 0,
}


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    tv, radio = rng.uniform(0, 300, n), rng.uniform(0, 50, n)
    return pd.DataFrame({"tv": tv, "radio": radio, "units": 3 + 0.05 * tv + 0.1 * radio + rng.normal(0, 0.3, n)})


def _run(out, **settings):
    """A quick advertising run on a small synthetic frame."""
    return pipelines.run(
        "advertising", data=_frame(), features=("tv", "radio"), target="units", out=str(out), **QUICK, **settings
    )


def test_a_tracked_run_is_read_back_from_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = _run(tmp_path / "run", track="mlflow", track_uri=uri)
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("advertising").experiment_id])
    assert run.data.tags["pipelines.run_dir"] == str(result.report_dir.resolve())
    assert run.data.params["folds"] == "3" and run.data.params["widths"] == "(8,)"
    assert run.data.metrics["cv_r2_mean"] == pytest.approx(result.metrics["cv_r2_mean"])
    history = client.get_metric_history(run.info.run_id, "history/loss")
    assert [m.value for m in history] == pytest.approx(result.history["loss"])
    assert [m.step for m in history] == list(range(len(result.history["loss"])))
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.html", "report.json", "model.keras", "model_card.json"} <= artifacts
    assert run.info.artifact_uri.startswith((tmp_path / "mlruns" / "advertising").as_uri())  # beside the database


def test_tensorboard_runs_carry_their_config_and_metrics_as_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    result = _run(tmp_path / "run", tensorboard=True)
    events = EventAccumulator(str(result.report_dir / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    (content,) = events.PluginTagToContent("hparams").values()
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert session.hparams["folds"].number_value == 3 and session.hparams["widths"].string_value == "(8,)"
    (cv_r2,) = events.Tensors("cv_r2_mean")
    assert float(tf.make_ndarray(cv_r2.tensor_proto)) == pytest.approx(result.metrics["cv_r2_mean"], rel=1e-6)


def test_tracking_settings_are_checked_before_any_work(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="track_uri applies when tracking"):
        pipelines.get_config("advertising", track_uri="sqlite:///x.db")
    with pytest.raises(ConfigError, match="track must be one of 'none', 'mlflow'"):
        pipelines.get_config("advertising", track="wandb")
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real_find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match=r"keras-pipelines\[track\]"):
        pipelines.run("advertising", track="mlflow", out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


@pytest.mark.realdata
def test_a_tracked_study_is_a_parent_run_with_a_child_per_trial(real_data_dir, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = pipelines.tune(
        "advertising",
        trials=1,
        space={"learning_rate": "log:1e-3:3e-2"},
        out=str(tmp_path / "study"),
        data_dir=str(real_data_dir),
        track="mlflow",
        track_uri=uri,
        **{**QUICK, "widths": (16, 16), "epochs": 200},
    )
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("advertising").experiment_id])
    (parent,) = [r for r in runs if r.info.run_name.startswith("tune ")]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    # The trial and the best configuration's final run.
    assert sorted(r.info.run_name for r in children) == sorted(["0000", result.best_run_dir.name])
    assert parent.data.metrics["best_cv_r2_mean"] == pytest.approx(result.best_value)
    assert json.loads(parent.data.tags["pipelines.best_params"])["learning_rate"] == pytest.approx(
        result.best_params["learning_rate"]
    )
