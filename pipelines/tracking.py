"""Logging finished runs to MLflow: `track="mlflow"` (`--set track=mlflow`).

Each run becomes an MLflow run in the experiment named after its pipeline, with the
resolved config as parameters (dotted keys), the final metrics, the per-epoch history as
metric steps, the run folder's path as a tag, and the run's top-level files as artifacts
(report.json/.md/.html, the figures, model.keras, model_card.json). Inside an active MLflow
run (a tuning study's, or one of yours) it becomes a child run.

`track_uri` is any MLflow tracking URI; by default `sqlite:///mlflow.db` in the working
folder (MLflow's own default store since its file store went into maintenance), with the
artifacts beside an SQLite database, in `mlruns/<pipeline>/`. MLflow is an optional extra:
`pip install 'keras-pipelines[track]'`.

Example:
    >>> import pipelines
    >>> pipelines.get_config("advertising", track="mlflow").track_uri is None  # the default store
    True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from pipelines.config import config_to_dict
from pipelines.errors import ConfigError

__all__ = [
    "TRACKERS",
    "DEFAULT_TRACK_URI",
    "check_tracking",
    "log_run",
    "tracking_uri",
    "use_experiment",
    "write_hparams",
]

TRACKERS = ("none", "mlflow")
DEFAULT_TRACK_URI = "sqlite:///mlflow.db"
_PARAM_CHARS = 500  # MLflow takes longer values, but a column list is not a parameter anyone filters on
_ARTIFACT_SUFFIXES = (".json", ".md", ".html", ".png", ".keras", ".csv")


def check_tracking(config: Any) -> None:
    """Refuses `track="mlflow"` without MLflow installed, and `track_uri` without tracking.

    Raises:
        ConfigError: See above.
    """
    track, uri = getattr(config, "track", "none"), getattr(config, "track_uri", None)
    if track == "mlflow" and importlib.util.find_spec("mlflow") is None:
        raise ConfigError(
            "track='mlflow' logs runs to MLflow, which is not installed: pip install 'keras-pipelines[track]'"
        )
    if uri is not None and track == "none":
        raise ConfigError(
            f"track_uri applies when tracking. Received track_uri={uri!r} with track='none'; add track=mlflow"
        )


def tracking_uri(config: Any) -> str:
    """The MLflow tracking URI of `config`: its `track_uri`, else the default store."""
    return getattr(config, "track_uri", None) or DEFAULT_TRACK_URI


def log_run(pipeline: str, config: Any, report: Any, run_dir: Path) -> str:
    """Logs a finished run (see the module docstring); returns its MLflow run id."""
    import mlflow

    if mlflow.active_run() is None:
        use_experiment(pipeline, tracking_uri(config))
    params = {key: _param(value) for key, value in _flat(config_to_dict(config)).items()}
    with mlflow.start_run(run_name=run_dir.name, nested=mlflow.active_run() is not None) as run:
        client, run_id = mlflow.MlflowClient(), run.info.run_id
        # log_batch takes at most 100 parameters and 1000 metrics per call.
        items = sorted(params.items())
        for start in range(0, len(items), 100):
            client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in items[start : start + 100]])
        metrics = [
            mlflow.entities.Metric(name, float(value), 0, 0)
            for name, value in report.metrics.items()
            if isinstance(value, (int, float))
        ]
        for name, values in report.history.items():
            metrics += [
                mlflow.entities.Metric(f"history/{name}", float(v), 0, step)
                for step, v in enumerate(values)
                if isinstance(v, (int, float))
            ]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        mlflow.set_tags(
            {"pipelines.pipeline": pipeline, "pipelines.run_dir": str(run_dir.resolve()), "status": report.status}
        )
        for path in sorted(run_dir.iterdir()):
            if path.is_file() and path.suffix in _ARTIFACT_SUFFIXES:
                mlflow.log_artifact(str(path))
    return run_id


def write_hparams(config: Any, report: Any, run_dir: Path) -> None:
    """With `tensorboard=True`: the run's config and final metrics as a TensorBoard HParams
    session in `run_dir/tensorboard`, so the HParams view compares runs (`tensorboard
    --logdir` over several runs' folders). Values that are not numbers, strings or booleans
    (tuples, None) are given as text."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    hparams = {
        key: value if isinstance(value, (bool, int, float, str)) else str(value)
        for key, value in _flat(config_to_dict(config)).items()
    }
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    with writer.as_default():
        hp.hparams(hparams, trial_id=run_dir.name)
        for name, value in report.metrics.items():
            if isinstance(value, (int, float)):
                tf.summary.scalar(name, value, step=0)
    writer.close()


def use_experiment(name: str, uri: str) -> None:
    """Points MLflow at `uri` and experiment `name`, made if missing. With an SQLite store
    the artifacts go beside the database, in `mlruns/<name>` (MLflow's default is the
    working folder's `mlruns/`, wherever the database is)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(name) is None:
        database = Path(uri.removeprefix("sqlite:///")).expanduser().resolve()
        mlflow.create_experiment(name, artifact_location=(database.parent / "mlruns" / name).as_uri())
    mlflow.set_experiment(name)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _PARAM_CHARS else text[: _PARAM_CHARS - 3] + "..."
