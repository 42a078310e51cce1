"""Runs a registered pipeline: resolve and validate the config, prepare the run directory,
seed and place, call the pipeline, then write the model, its card and the report atomically.

Usage (trains on MNIST):

    result = run("mnist", epochs=1, max_train_samples=2000, verbose=0)
    result.metrics["accuracy"]  # about 0.9
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import registry
from pipelines.config import apply_overrides, config_to_dict, validate_config
from pipelines.errors import ConfigError, ModelLoadError, OutputDirError, TrainingDivergedError

__all__ = ["RunResult", "RunContext", "run", "evaluate", "get_config", "make_run_dir"]


@dataclass
class RunResult:
    """What `run()` returns.

    Attributes:
        model: The trained Keras model (also saved as `report_dir/model.keras`).
        history: Per-epoch training history (metric name -> values).
        metrics: The report's flat metrics (name -> number); empty on a non-chief worker.
        report_dir: The run directory holding the report, plots and model; `None` on a
            non-chief worker of a multi-worker run, which writes nothing.
        config: The resolved config dataclass.
        report: The full `report.json` content.
    """

    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, float | None]
    report_dir: Path | None
    config: Any
    report: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class RunContext:
    """What a pipeline's train/evaluate functions receive besides their config.

    Attributes:
        run_dir: Where the run writes (checkpoints, backups, report).
        strategy: The `tf.distribute.Strategy` to build and compile the model under.
        report: The `Report` to fill with dataset info, metrics, tables and figures.
        model_card: Entries the pipeline adds to `model_card.json` (inputs, outputs, ...).
        cluster: The multi-worker `pipelines.worker_cluster.Cluster` this process belongs to, or
            `None` on a single machine. On a non-chief worker `run_dir` is a scratch folder
            deleted at the end, and nothing is evaluated or written.
    """

    run_dir: Path
    strategy: Any
    report: Any
    model_card: dict[str, Any] = field(default_factory=dict)
    cluster: Any = None

    @contextlib.contextmanager
    def timer(self, key: str) -> Iterator[None]:
        """Adds the block's wall time to `report.timings[key]`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.report.timings[key] = self.report.timings.get(key, 0.0) + time.perf_counter() - start


def get_config(name: str, **overrides: Any) -> Any:
    """The default config dataclass of pipeline `name`, with `overrides` applied.

    Raises:
        UnknownPipelineError: `name` is not registered.
        ConfigError: An unknown key or a bad value.
    """
    task = registry.get_task(name)
    config = task.config_cls()
    return apply_overrides(config, overrides) if overrides else _validated(config)


def run(name_or_config: Any, **overrides: Any) -> RunResult:
    """Runs a pipeline end to end and writes its report.

    Args:
        name_or_config: A registered name (`"mnist"`) or a config dataclass instance of a
            registered pipeline.
        **overrides: Config fields to change, e.g. `epochs=3`, `augment={"zoom": 0.1}`.

    Returns:
        A `RunResult`.

    A run that fails on bad input leaves nothing behind: the run directory it created is
    removed again if nothing was written into it. A run whose loss diverges writes a
    report with `status: "failed"` and keeps its best checkpoint, but no `model.keras`.

    Raises:
        UnknownPipelineError, ConfigError: Before any work starts.
        DatasetUnavailable, ChecksumMismatch, DataValidationError: The data cannot be found,
            is corrupt or is invalid; raised before training.
        OutputDirError: The run directory cannot be written, or `out` holds a finished run.
        TrainingDivergedError: The loss became non-finite; the failed report is written.
    """
    task, config = _resolve(name_or_config, overrides)
    cluster = _resolve_cluster(task, config)
    if cluster is not None and not cluster.is_chief:
        return _run_worker(task, config, cluster)
    keep, new_parents = _existing_dir(config.out), _missing_parents(config.out, task.name)
    run_dir = make_run_dir(config.out, task.name)
    from pipelines import devices  # TensorFlow is imported only once a run really starts
    from pipelines.evaluation.report import Report

    report = Report(task.name, config=config_to_dict(config))
    report.extra["created"] = _now()
    total_start = time.perf_counter()
    try:
        with _seeded(config), devices.precision_policy(config.precision):
            strategy = _make_strategy(config, cluster)
            ctx = RunContext(run_dir=run_dir, strategy=strategy, report=report, cluster=cluster)
            report.environment = _environment(config, devices.describe_strategy(strategy))
            if cluster is not None:
                # TensorFlow's class is CollectiveAllReduceStrategy; users know it by its public name.
                report.environment.update(strategy="MultiWorkerMirroredStrategy", cluster=cluster.describe())
            model = task.train(config, ctx)
    except TrainingDivergedError as e:
        _write_failed_report(report, run_dir, e, time.perf_counter() - total_start)
        raise
    except BaseException:
        _remove_empty_dirs(run_dir, keep_root=keep, parents=new_parents)
        raise
    report.timings["total_seconds"] = time.perf_counter() - total_start
    _save_model(model, run_dir / "model.keras")
    _write_model_card(run_dir, task.name, config, report, ctx.model_card)
    _add_links(report, run_dir)
    report.write(run_dir)
    if cluster is not None:
        from pipelines.multiworker import wait_for_all_workers

        wait_for_all_workers(strategy)  # the other workers end with the chief, once its files are written
    _print_done(config, run_dir, report.metrics)
    return RunResult(
        model=model,
        history=report.history,
        metrics=dict(report.metrics),
        report_dir=run_dir,
        config=config,
        report=report.to_dict(),
    )


def evaluate(name: str, model_path: str | os.PathLike, **overrides: Any) -> RunResult:
    """Evaluates a saved `.keras` model on pipeline `name`'s test data and writes a report.

    The model is loaded with `safe_mode=True`: files that would run arbitrary code (Lambda
    layers, unregistered custom objects) are refused.

    Raises:
        UnknownPipelineError, ConfigError: Before any work starts.
        ModelLoadError: The file is missing or cannot be loaded safely.
    """
    task, config = _resolve(name, overrides)
    if config.workers:
        raise ConfigError("evaluate runs on one machine: drop --workers / workers= (TF_CONFIG is ignored here).")
    if task.evaluate is None:
        raise ConfigError(f"pipeline {name!r} has no separate evaluation of saved models.")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelLoadError(f"no model file at {str(model_path)!r}. Pass the path of a saved .keras model.")
    keep, new_parents = _existing_dir(config.out), _missing_parents(config.out, f"{task.name}-evaluate")
    run_dir = make_run_dir(config.out, f"{task.name}-evaluate")
    from pipelines import devices
    from pipelines.evaluation.report import Report
    from pipelines.models import load_model

    report = Report(task.name, config=config_to_dict(config))
    report.extra["created"] = _now()
    report.extra["evaluated_model"] = str(model_path.resolve())
    total_start = time.perf_counter()
    try:
        with _seeded(config), devices.precision_policy(config.precision):
            strategy = devices.make_strategy(config.device)
            ctx = RunContext(run_dir=run_dir, strategy=strategy, report=report)
            report.environment = _environment(config, devices.describe_strategy(strategy))
            model = load_model(model_path)
            task.evaluate(model, config, ctx)
    except BaseException:
        _remove_empty_dirs(
            run_dir, keep_root=keep, parents=new_parents
        )  # a refused model or bad data leaves nothing behind
        raise
    report.timings["total_seconds"] = time.perf_counter() - total_start
    _add_links(report, run_dir)
    report.write(run_dir)
    _print_done(config, run_dir, report.metrics)
    return RunResult(
        model=model,
        history={},
        metrics=dict(report.metrics),
        report_dir=run_dir,
        config=config,
        report=report.to_dict(),
    )


def make_run_dir(out: str | os.PathLike | None, pipeline: str) -> Path:
    """Creates and returns the run directory; checks that it is writable.

    With `out=None` it is `reports/<pipeline>/<timestamp>/`; two runs started in the same
    second, in one process or several, get distinct directories (`-2`, `-3`, ... suffixes;
    each is created with an exclusive `mkdir`, which only one caller can win).

    An explicit `out` may be new, empty, or hold an unfinished run: its `backup/` lets the
    same command resume a killed run, and a diverged (failed) run may be retried. A folder
    holding a finished run (`model.keras`, or a `report.json` whose status is not
    `failed`) is refused rather than silently overwritten.

    Raises:
        OutputDirError: The directory cannot be created or written, or holds a finished run.
    """
    try:
        if out is not None:
            path = Path(out)
            _check_no_finished_run(path)
            path.mkdir(parents=True, exist_ok=True)
        else:
            parent = Path("reports") / pipeline
            parent.mkdir(parents=True, exist_ok=True)
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            for i in range(1, 1000):
                path = parent / (stamp if i == 1 else f"{stamp}-{i}")
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    continue
            else:
                raise OutputDirError(f"could not create a fresh run directory under {parent}")
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OutputDirError:
        raise
    except OSError as e:
        target = out if out is not None else f"reports/{pipeline}"
        raise OutputDirError(
            f"cannot write the run directory {str(target)!r}: {e.strerror or e}. Pass a writable --out DIR."
        ) from e
    return path


# ----------------------------------------------------------------------------- internals


def _resolve(name_or_config: Any, overrides: Mapping[str, Any]) -> tuple[registry.Task, Any]:
    if isinstance(name_or_config, str):
        task = registry.get_task(registry.check_name(name_or_config))
        config = task.config_cls()
    elif dataclasses.is_dataclass(name_or_config) and not isinstance(name_or_config, type):
        config = name_or_config
        matches = [n for n in registry.list_pipelines() if type(config) is registry.get_task(n).config_cls]
        if not matches:
            raise ConfigError(f"{type(config).__name__} is not the config of any registered pipeline.")
        task = registry.get_task(matches[0])
    else:
        raise ConfigError(
            f"run() takes a pipeline name or its config dataclass. Received: {type(name_or_config).__name__}"
        )
    config = apply_overrides(config, overrides) if overrides else _validated(config)
    return task, config


def _resolve_cluster(task: registry.Task, config: Any) -> Any:
    """The run's multi-worker cluster (from `workers` or TF_CONFIG), or None; checked before any work."""
    from pipelines.worker_cluster import resolve_cluster

    cluster = resolve_cluster(config, os.environ)
    if cluster is not None and not task.multi_worker:
        supported = ", ".join(registry.multi_worker_pipelines())
        raise ConfigError(
            f"pipeline {task.name!r} cannot train on several workers yet: it trains with Keras's fit() or its "
            f"own loop, and fit() fails under MultiWorkerMirroredStrategy. Multi-worker runs support: {supported}. "
            "Run it on one machine (unset TF_CONFIG, drop --workers)."
        )
    return cluster


def _make_strategy(config: Any, cluster: Any) -> Any:
    if cluster is None:
        from pipelines import devices

        return devices.make_strategy(config.device)
    from pipelines.multiworker import make_strategy

    return make_strategy(cluster, config.device)


def _run_worker(task: registry.Task, config: Any, cluster: Any) -> RunResult:
    """A non-chief worker: trains in step with the others and writes nothing to the run directory.

    Its checkpoint copies go to a private scratch folder, deleted when it ends.
    """
    import shutil

    from pipelines.evaluation.report import Report
    from pipelines.multiworker import make_scratch_dir, wait_for_all_workers

    scratch = make_scratch_dir(cluster)
    report = Report(task.name, config=config_to_dict(config))  # filled by train(), never written
    try:
        with _seeded(config):
            from pipelines import devices

            with devices.precision_policy(config.precision):
                strategy = _make_strategy(config, cluster)
                ctx = RunContext(run_dir=scratch, strategy=strategy, report=report, cluster=cluster)
                model = task.train(config, ctx)
        wait_for_all_workers(strategy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if config.verbose:
        print(f"Worker {cluster.rank} of {cluster.num_workers} done; the chief writes the report.", flush=True)
    return RunResult(model=model, history=report.history, metrics={}, report_dir=None, config=config)


def _check_no_finished_run(path: Path) -> None:
    finished = [name for name in ("model.keras", "report.json") if (path / name).is_file()]
    if finished == ["report.json"] and _report_status(path / "report.json") == "failed":
        return  # a diverged run: retrying it (with a lower learning rate) is the fix
    if finished:
        raise OutputDirError(
            f"--out {str(path)!r} already holds a finished run ({', '.join(finished)}). "
            "Pass a new --out DIR, or delete that folder to run again."
        )


def _report_status(path: Path) -> str | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None  # unreadable: treated as a finished run, never overwritten


def _existing_dir(out: str | os.PathLike | None) -> bool:
    return out is not None and Path(out).is_dir()


def _missing_parents(out: str | os.PathLike | None, pipeline: str) -> list[Path]:
    """The folders above the run directory that do not exist yet (`make_run_dir` creates them), nearest first."""
    target = Path(out) if out is not None else Path("reports") / pipeline / "run"
    return [p for p in target.parents if not p.exists()]


def _remove_empty_dirs(run_dir: Path, *, keep_root: bool, parents: Sequence[Path] = ()) -> None:
    """Removes empty folders under `run_dir` bottom-up, `run_dir` unless `keep_root`, then `parents`.

    Never removes a file. A run that stops on bad input has written nothing, so this
    removes the folders it created (`parents`: those `make_run_dir` made above the run
    directory, such as `reports/<pipeline>/`; a folder the user made is kept); a killed or
    diverged run keeps its backup and checkpoints.
    """
    for folder in sorted((p for p in run_dir.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    if not keep_root:
        with contextlib.suppress(OSError):
            run_dir.rmdir()
            for folder in parents:
                folder.rmdir()


def _write_failed_report(report: Any, run_dir: Path, error: TrainingDivergedError, seconds: float) -> None:
    """Writes the report of a diverged run, marked failed, beside its best checkpoint."""
    from pipelines.training import BEST_CHECKPOINT

    best = run_dir / BEST_CHECKPOINT
    report.status = "failed"
    report.history = report.history or error.history
    report.timings["total_seconds"] = seconds
    report.extra["error"] = {"type": type(error).__name__, "message": str(error)}
    report.extra["last_good_checkpoint"] = str(best) if best.is_file() else None
    report.write(run_dir)


def _validated(config: Any) -> Any:
    validate_config(config)
    return config


@contextlib.contextmanager
def _seeded(config: Any) -> Iterator[None]:
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config  # is_op_determinism_enabled is not public

    keras.utils.set_random_seed(config.seed)
    was_deterministic = tf_config.is_op_determinism_enabled()
    if config.deterministic and not was_deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        # A later run in the same process must not inherit this run's (slower) determinism.
        if config.deterministic and not was_deterministic:
            tf_config.disable_op_determinism()


def _environment(config: Any, placement: Mapping[str, Any]) -> dict[str, Any]:
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        **placement,
        "precision_policy": keras.config.dtype_policy().name,
        # What the train step really used: several replicas run without XLA (training.jit_compile_for).
        "jit_compile": bool(config.jit_compile) and placement.get("replicas", 1) == 1,
        "op_determinism": bool(config.deterministic),
        "seed": config.seed,
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
    }


def _save_model(model: Any, path: Path) -> None:
    from pipelines.atomic import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)


def _write_model_card(run_dir: Path, pipeline: str, config: Any, report: Any, extra: Mapping[str, Any]) -> None:
    from pipelines.atomic import write_text

    card = {
        "pipeline": pipeline,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "file": "model.keras",
        "load_with": "keras.saving.load_model(path, safe_mode=True)",
        **dict(extra),
        "dataset": report.dataset,
        "metrics": report.metrics,
        "config": config_to_dict(config),
        "environment": {k: report.environment.get(k) for k in ("python", "tensorflow", "keras")},
    }
    write_text(run_dir / "model_card.json", json.dumps(card, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _add_links(report: Any, run_dir: Path) -> None:
    """Links the run's other outputs (TensorBoard logs, model, card) from the report."""
    from pipelines.evaluation.report import Link

    rows = []
    logs = run_dir / "tensorboard"
    if logs.is_dir():
        # Relative, so the link survives moving the run directory; the command needs the absolute path.
        rows.append(
            {
                "what": "TensorBoard logs",
                "link": Link("tensorboard/", "tensorboard/"),
                "open with": f"tensorboard --logdir {logs.resolve()}",
            }
        )
        report.extra["tensorboard_logdir"] = str(logs.resolve())
    for name, what in (
        ("model.keras", "Saved model"),
        ("model_card.json", "Model card"),
        ("predictions.npz", "Test-set predictions (for `pipelines compare`)"),
    ):
        if (run_dir / name).is_file() or (name == "predictions.npz" and "predictions" in report.extra):
            rows.append({"what": what, "link": Link(name, name), "open with": ""})
    if rows:
        report.add_table("Files of this run", rows, note="Paths relative to this report's folder.")


def _print_done(config: Any, run_dir: Path, metrics: Mapping[str, float | None]) -> None:
    """Ends a verbose run with its headline metrics and, last, the path of its HTML report."""
    if not config.verbose:
        return
    headline = [(k, v) for k, v in metrics.items() if "class_" not in k and "_ci_" not in k and v is not None]
    if headline:
        print("  ".join(f"{k}={v:.4f}" for k, v in headline[:6]), flush=True)
    print(f"Report: {(run_dir / 'report.html').resolve()}", flush=True)
