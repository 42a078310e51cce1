"""`pipelines.tune`: an Optuna study over a pipeline's config, whose trials are ordinary runs.

Each trial is a run in `DIR/trials/NNNN/` (its own report and model) with the pipeline's
trial settings (`TuneSpec.trial_settings`: for the image classifiers no test-set
evaluation, so trials are scored on the validation split only). Once the trials are done,
the best configuration is run again in `DIR/best-NNNN/` (NNNN: its trial) with the test evaluation on: the test
set is read once, by that run. `DIR/report.html` shows the trials, the optimization
history and the parameter importances, and links every run.

The study lives in `DIR/study.db` (SQLite) unless `storage` names another Optuna RDB URL;
the same call resumes it (a killed trial is failed once its heartbeat is stale and run
again), and several processes given the same `storage` share one study.

Usage (a few seconds per trial):

    import pipelines
    result = pipelines.tune("advertising", trials=20)
    result.best_params, result.best_value, result.best_run_dir
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines import atomic, registry
from pipelines.config import field_value
from pipelines.data_defaults import given
from pipelines.errors import ConfigError, OutputDirError, PipelinesError
from pipelines.tuning.space import parse_space

__all__ = ["tune", "TuneResult", "STUDY_DB", "tunable_pipelines"]

STUDY_DB = "study.db"
STUDY_MARK = "study.url"  # the study's storage URL: marks a study folder
# Settings that change how a process shows or logs its trials, not the study.
_DISPLAY_KEYS = ("verbose", "track", "track_uri", "tensorboard")
_FINAL_RUN_WAIT_SECONDS = 3600
_MINIMIZED = ("loss", "error", "rmse", "mae", "fid", "ece")


@dataclass
class TuneResult:
    """A finished study.

    Attributes:
        study_dir: The study's folder (`report.html`, `tune.json`, `trials/`, `best-NNNN/`).
        metric: The optimized metric and its direction, e.g. `("cv_r2_mean", "maximize")`.
        best_params: The best trial's values of the searched fields.
        best_value: Its score.
        best_run_dir: The final run of the best configuration.
        best_metrics: That run's metrics (with the test set, for pipelines that have one).
        trials: One dict per trial: number, state, value, params, seconds, run folder.
    """

    study_dir: Path
    metric: tuple[str, str]
    best_params: dict[str, Any]
    best_value: float
    best_run_dir: Path
    best_metrics: dict[str, Any]
    trials: list[dict[str, Any]]


def tunable_pipelines() -> list[str]:
    """The registered pipelines with a tuning objective."""
    return [name for name in registry.list_pipelines() if registry.get_task(name).tune is not None]


def tune(
    name: str,
    *,
    trials: int = 20,
    timeout: float | None = None,
    space: Mapping[str, str] | None = None,
    metric: str | None = None,
    out: str | None = None,
    storage: str | None = None,
    sampler_seed: int = 0,
    heartbeat_seconds: int = 5,
    **overrides: Any,
) -> TuneResult:
    """Searches pipeline `name`'s config for the best validation score, then runs the best once more.

    Args:
        name: A tunable pipeline (`tunable_pipelines()`).
        trials: Trials the study should have finished (a resumed study runs the rest).
        timeout: Stop starting trials after this many seconds.
        space: `{key: SPEC}` over the pipeline's default space (see `pipelines.tuning.space`);
            a key set in `overrides` leaves the default space.
        metric: `NAME` or `NAME:maximize|minimize` from the trial runs' history (best epoch)
            or metrics; default the pipeline's.
        out: The study folder; default `reports/tune/<name>-<timestamp>/`. An existing
            study of the same pipeline and space there is resumed.
        storage: An Optuna RDB URL shared by several processes; default SQLite in `out`.
        sampler_seed: Seed of the TPE sampler.
        heartbeat_seconds: How often a running trial says it is alive; one silent for four
            times as long (its process was killed) is failed and tried again.
        **overrides: Config settings of every trial (and of the final run), as for `run`.

    Raises:
        ConfigError: An unknown pipeline or one without an objective, a bad setting or
            SPEC, Optuna missing, or `out` holding a different study; before any trial.
        OutputDirError: `out` is not a study folder and not empty.
    """
    task = registry.get_task(registry.check_name(name))
    spec = task.tune
    if spec is None:
        raise ConfigError(f"pipeline {name!r} cannot be tuned yet. Tunable: {', '.join(tunable_pipelines())}")
    if trials < 1 or (timeout is not None and timeout <= 0) or heartbeat_seconds < 1:
        raise ConfigError(
            "expected trials >= 1, a positive timeout and heartbeat_seconds >= 1. "
            f"Received trials={trials}, timeout={timeout}, heartbeat_seconds={heartbeat_seconds}"
        )
    optuna = _import_optuna()
    from pipelines import runner

    settings = {**spec.trial_settings, **overrides}
    base = runner.get_config(name, **settings)  # every setting checked before any work
    space = dict(space or {})
    fixed = sorted(k for k in space if given(k, overrides))
    if fixed:
        raise ConfigError(f"{', '.join(fixed)} are both searched (--space) and set (--set); choose one")
    defaults = spec.space_for(base)
    dims = parse_space(base, {**{k: v for k, v in defaults.items() if not given(k, overrides)}, **space})
    if not dims:
        raise ConfigError("nothing to search: every field of the default space is set; add --space KEY=SPEC")
    metric_name, direction = _metric(spec.metric, spec.direction, metric)
    study_dir = _study_dir(out, name)
    # What makes two calls the same study; how a process shows or logs its trials does not.
    record = {
        "pipeline": name,
        "space": {k: d.spec for k, d in dims.items()},
        "settings": {k: _jsonable(v) for k, v in settings.items() if k not in _DISPLAY_KEYS},
        "metric": [metric_name, direction],
        "heartbeat_seconds": heartbeat_seconds,
    }
    study = _open_study(optuna, study_dir, storage, name, direction, sampler_seed, heartbeat_seconds, record)
    verbose = bool(getattr(base, "verbose", 1))

    def objective(trial: Any) -> float:
        params = {key: dim.suggest(trial, base) for key, dim in dims.items()}
        run_dir = study_dir / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir.relative_to(study_dir)))
        trial.set_user_attr("config", {k: _jsonable(v) for k, v in params.items()})
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        from pipelines.training import watching_epochs  # Keras: only once a trial runs

        start = time.perf_counter()
        pruner = _pruning_callback(trial, metric_name)
        try:
            with watching_epochs(pruner):
                result = runner.run(name, **{**settings, **params, "out": str(run_dir), "verbose": 0})
        except Exception as err:  # this configuration fails (a killed trial is not a finished one)
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            if isinstance(err, PipelinesError):
                raise
            raise PipelinesError(f"trial {trial.number} failed: {type(err).__name__}: {err}") from err
        trial.set_user_attr("seconds", time.perf_counter() - start)
        if pruner.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {pruner.pruned_at + 1}")
        try:
            return spec.score_of(result.history, result.metrics, metric_name, direction)
        except ConfigError as err:  # the metric asked for is not one the runs compute: no trial will score
            trial.set_user_attr("error", str(err))
            trial.study.stop()
            raise

    # With track="mlflow" the study is a parent MLflow run and each trial's run its child.
    with _tracked(base, name, study_dir, record) as log_best:
        if not study.trials:
            _enqueue_defaults(study, dims, base)
        done = _finished(optuna, study)
        remaining = max(0, trials - done)
        if remaining:
            # Several processes on one study stop together once it has `trials` finished ones.
            def enough(study: Any, trial: Any) -> None:
                if _finished(optuna, study) >= trials:
                    study.stop()

            callbacks = [enough, *([_progress(trials, metric_name)] if verbose else [])]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
                study.optimize(
                    objective, n_trials=remaining, timeout=timeout, catch=(PipelinesError,), callbacks=callbacks
                )
        _wait_for_running_trials(optuna, study, heartbeat_seconds)
        best = _best_trial(optuna, study)
        best_params = {key: dims[key].parse(best.params[key], base) for key in dims if key in best.params}
        # One final run per best trial: a resumed study whose best did not change reuses it.
        final_dir = study_dir / f"best-{best.number:04d}"
        final_settings = {**settings, **best_params, **spec.final_settings, "out": str(final_dir)}
        final_metrics = _final_run(runner, name, final_settings, final_dir)
        rows = _trial_rows(optuna, study)
        result = TuneResult(
            study_dir, (metric_name, direction), best_params, float(best.value), final_dir, final_metrics, rows
        )
        log_best(result)
    from pipelines.tuning.report import write_study_report

    write_study_report(study, result, record)
    return result


@contextlib.contextmanager
def _tracked(base: Any, name: str, study_dir: Path, record: dict[str, Any]) -> Iterator[Any]:
    """With `track="mlflow"`: the study as a parent MLflow run; yields a function logging the result."""
    if getattr(base, "track", "none") != "mlflow":
        yield lambda result: None
        return
    import mlflow

    from pipelines.tracking import tracking_uri, use_experiment

    use_experiment(name, tracking_uri(base))
    with mlflow.start_run(run_name=f"tune {study_dir.name}"):
        mlflow.log_params({f"space.{k}": v for k, v in record["space"].items()})
        mlflow.set_tags(
            {"pipelines.study_dir": str(study_dir.resolve()), "pipelines.metric": ":".join(record["metric"])}
        )

        def log_best(result: TuneResult) -> None:
            mlflow.log_metric(f"best_{result.metric[0]}", result.best_value)
            best = {k: _jsonable(v) for k, v in result.best_params.items()}
            mlflow.set_tag("pipelines.best_params", json.dumps(best))

        yield log_best


def _pruning_callback(trial: Any, metric: str) -> Any:
    """A Keras callback reporting `metric` to the trial after each epoch, and stopping the
    run's training once Optuna's pruner finds the trial behind the others at that epoch."""
    import keras

    class Pruner(keras.callbacks.Callback):
        pruned_at: int | None = None

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            value = (logs or {}).get(metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), step=epoch)
            if trial.should_prune():
                self.pruned_at = epoch
                self.model.stop_training = True

    return Pruner()


def _enqueue_defaults(study: Any, dims: dict[str, Any], base: Any) -> None:
    """A new study's first trial is the configuration the trials would run untuned (where the
    space holds it), so the best found is never worse, on these trials' score, than not tuning."""
    values = {}
    for key, dim in dims.items():
        spelled = dim.spelling_of(field_value(base, key), base)
        if spelled is not None:
            values[key] = spelled
    if values:
        study.enqueue_trial(values, user_attrs={"defaults": True})


def _wait_for_running_trials(optuna: Any, study: Any, heartbeat: int) -> None:
    """Waits while other processes of the study still run trials (a better one may end), each
    until it finishes or goes stale (its process died: failed by the heartbeat check)."""
    while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        optuna.storages.fail_stale_trials(study)
        time.sleep(min(2.0, heartbeat))


def _final_run(runner: Any, name: str, settings: dict[str, Any], final_dir: Path) -> dict[str, Any]:
    """The best configuration's run, or the one already in `final_dir` (a resumed study, or
    another process of the same study that got there first: waited for)."""
    report = final_dir / "report.json"
    deadline = time.monotonic() + _FINAL_RUN_WAIT_SECONDS
    while True:
        if report.is_file():
            finished = json.loads(report.read_text())
            if finished.get("status") != "ok":
                raise PipelinesError(
                    f"the best configuration's final run in {final_dir} failed ({finished.get('status')}); "
                    "see its report"
                )
            return dict(finished["metrics"])
        try:
            return dict(runner.run(name, **settings).metrics)
        except OutputDirError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)  # another process is running it: its report will appear


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError as err:
        raise ConfigError(f"tuning needs Optuna ({err}): pip install 'keras-pipelines[tune]'") from err
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _metric(default: str, default_direction: str, given: str | None) -> tuple[str, str]:
    if given is None:
        return default, default_direction
    name, _, direction = given.partition(":")
    if not name or direction not in ("", "maximize", "minimize"):
        raise ConfigError(f"expected --metric NAME or NAME:maximize|minimize. Received: {given!r}")
    if not direction:
        words = set(name.lower().replace("-", "_").split("_"))
        direction = "minimize" if words & set(_MINIMIZED) else "maximize"
    return name, direction


def _study_dir(out: str | None, name: str) -> Path:
    if out is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path("reports") / "tune" / f"{name}-{stamp}"
    path = Path(out)
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not (path / STUDY_MARK).exists())):
        raise OutputDirError(
            f"expected a new or empty folder, or a study folder to resume (with {STUDY_MARK}). Received: {out!r}"
        )
    return path


def _open_study(
    optuna: Any,
    study_dir: Path,
    storage: str | None,
    name: str,
    direction: str,
    seed: int,
    heartbeat: int,
    record: dict,
) -> Any:
    try:
        study_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputDirError(f"cannot create the study folder {str(study_dir)!r}: {err}") from err
    url = storage or f"sqlite:///{(study_dir / STUDY_DB).resolve()}"
    # The folder says which study it holds, so the same command finds it again (also in a
    # database elsewhere) and other folders' studies of the pipeline stay apart.
    mark = study_dir / STUDY_MARK
    if mark.exists() and mark.read_text().strip() != url:
        raise ConfigError(f"{study_dir} holds the study in {mark.read_text().strip()}; pass that --storage")
    # Optuna marks the heartbeat and its retry callback experimental; they are what resumes a killed study.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning, module="optuna")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning, module=__name__)
    rdb = optuna.storages.RDBStorage(
        url,
        heartbeat_interval=heartbeat,
        grace_period=4 * heartbeat,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1),
    )
    study = optuna.create_study(
        storage=rdb,
        study_name=f"{name}/{study_dir.resolve().name}",
        direction=direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        # A trial behind the median of the finished ones at the same epoch stops there
        # (after three finished trials and its own first epoch).
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        load_if_exists=True,
    )
    if not mark.exists():
        atomic.write_text(mark, url + "\n")
    previous = study.user_attrs.get("record")
    if previous is None:
        study.set_user_attr("record", record)
    elif previous != record:
        raise ConfigError(
            f"{study_dir} holds another study ({json.dumps(previous)}); resume it with the same settings, "
            "or pass another --out"
        )
    return study


def _finished(optuna: Any, study: Any) -> int:
    """Trials that count towards the study's number: complete, pruned, or failed by their
    configuration; not those killed with their process (failed once stale, and retried)."""
    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.FAIL))
    return sum(t.state != state.FAIL or "error" in t.user_attrs for t in trials)


def _best_trial(optuna: Any, study: Any) -> Any:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        why = next((t.user_attrs["error"] for t in reversed(failed) if "error" in t.user_attrs), "")
        raise PipelinesError(f"no trial of the study finished. {why}".strip())
    return study.best_trial


def _trial_rows(optuna: Any, study: Any) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": t.user_attrs.get("config", {}),
            "seconds": t.user_attrs.get("seconds"),
            "run_dir": t.user_attrs.get("run_dir"),
            "worker": t.user_attrs.get("worker"),
            "error": t.user_attrs.get("error"),
            "defaults": bool(t.user_attrs.get("defaults")),
        }
        for t in study.get_trials(deepcopy=False)
    ]


def _progress(trials: int, metric: str) -> Any:
    def report(study: Any, trial: Any) -> None:
        shown = ", ".join(f"{k}={v!r}" for k, v in trial.user_attrs.get("config", {}).items())
        value = "failed" if trial.value is None else f"{metric}={trial.value:.6g}"
        seconds = trial.user_attrs.get("seconds")
        took = f", {seconds:.1f} s" if seconds is not None else ""
        print(f"trial {trial.number + 1}/{trials}: {value} ({shown}{took})", flush=True)

    return report


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
