"""Runs a registered pipeline: resolve and validate the config, prepare the run directory,
seed and place, call the pipeline, then write the model, its card and the report atomically.

Usage (trains on MNIST):

    result = run("mnist", epochs=1, max_train_samples=2000, verbose=0)
    result.metrics["accuracy"]  # about 0.9
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines import atomic, registry
from pipelines.config import apply_overrides, config_to_dict, validate_config
from pipelines.data_defaults import resolve_config
from pipelines.errors import ConfigError, ModelLoadError, TrainingDivergedError
from pipelines.run_dir import existing_dir, lock_run_dir, make_run_dir, missing_parents, remove_empty_dirs
from pipelines.run_outputs import (
    add_links,
    environment,
    now,
    print_done,
    save_model,
    write_failed_report,
    write_model_card,
)

if TYPE_CHECKING:
    import tensorflow as tf

    from pipelines.evaluation.report import Report
    from pipelines.in_memory import InMemoryData
    from pipelines.worker_cluster import Cluster

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
        data: The data passed to `run(..., data=...)`, as the pipeline's data checker
            returned it (see `pipelines.in_memory`); `None` when the data come from files.
    """

    run_dir: Path
    strategy: tf.distribute.Strategy
    report: Report
    model_card: dict[str, Any] = field(default_factory=dict)
    cluster: Cluster | None = None
    data: Any = None

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
    return resolve_config(registry.get_task(name), overrides)


def run(name_or_config: Any, *, data: Any = None, **overrides: Any) -> RunResult:
    """Runs a pipeline end to end and writes its report.

    Args:
        name_or_config: A registered name (`"mnist"`) or a config dataclass instance of a
            registered pipeline.
        data: Your data in memory, for the pipelines that take it: a pandas DataFrame for
            `advertising`, a `(texts, labels)` pair for `sentiment`. It is checked before
            any work, and a copy (`input.csv`) is kept in the run folder with the report.
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
    task, config = _resolve(name_or_config, overrides, data)
    config, kept = _check_data(task, config, data)
    cluster = _resolve_cluster(task, config)
    if cluster is not None and not cluster.is_chief:
        return _run_worker(task, config, cluster, kept)
    if task.prepare is not None:  # e.g. a kept model trained on first use: before this run starts
        config = task.prepare(config)
    with _run_directory(config, task.name) as run_dir:
        if kept is not None:  # the saved config names the copy the run keeps
            config = dataclasses.replace(config, **{kept.path_field: str(run_dir / kept.file_name)})
        report = _new_report(task, config)
        with _started_run(run_dir, config, report, cluster, kept) as ctx:
            model = task.train(config, ctx)
        from pipelines.overfit import add_verdict  # imports Keras, which only a started run has loaded

        add_verdict(report, run_dir)
        save_model(model, run_dir / "model.keras")
        write_model_card(run_dir, task.name, config, report, ctx.model_card)
        _keep_data(kept, run_dir)
        _write_report(report, run_dir)
        if config.tensorboard:
            from pipelines.tracking import write_hparams

            write_hparams(config, report, run_dir)
        if config.track == "mlflow":
            from pipelines.tracking import log_run

            try:
                run_id = log_run(task.name, config, report, run_dir)
            except Exception as err:  # the run is complete on disk; the tracker's failure must not undo it
                print(
                    f"warning: MLflow logging failed ({type(err).__name__}: {err}); the run is in {run_dir}",
                    file=sys.stderr,
                )
            else:
                if config.verbose:
                    print(f"MLflow run {run_id} (experiment {task.name!r})", flush=True)
    if cluster is not None:
        from pipelines.multiworker import wait_for_all_workers

        wait_for_all_workers(ctx.strategy)  # the other workers end with the chief, once its files are written
    return _result(model, config, report, run_dir)


def evaluate(name: str, model_path: str | os.PathLike, **overrides: Any) -> RunResult:
    """Evaluates a saved `.keras` model on pipeline `name`'s test data and writes a report.

    The model is loaded with `safe_mode=True`: files that would run arbitrary code (Lambda
    layers, unregistered custom objects) are refused.

    Raises:
        UnknownPipelineError, ConfigError: Before any work starts.
        ModelLoadError: The file is missing or cannot be loaded safely, or the model's
            inputs or outputs do not fit the pipeline; before any work starts.
    """
    task, config = _resolve(name, overrides)
    if config.workers:
        raise ConfigError("evaluate runs on one machine: drop --workers / workers= (TF_CONFIG is ignored here).")
    if task.evaluate is None:
        raise ConfigError(f"pipeline {name!r} has no separate evaluation of saved models.")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelLoadError(f"no model file at {str(model_path)!r}. Pass the path of a saved .keras model.")
    from pipelines.models import load_model

    model = load_model(model_path)  # refused models (unsafe, or not fitting the task) stop before any work
    if task.check_model is not None:
        task.check_model(model, config)
    if task.prepare is not None:
        config = task.prepare(config)
    report = _new_report(task, config)
    report.extra["evaluated_model"] = str(model_path.resolve())
    with _run_directory(config, f"{task.name}-evaluate") as run_dir:
        with _started_run(run_dir, config, report) as ctx:
            task.evaluate(model, config, ctx)
        _write_report(report, run_dir)
    return _result(model, config, report, run_dir, history={})


# ----------------------------------------------------------------------------- internals


def _check_data(task: registry.Task, config: Any, data: Any) -> tuple[Any, InMemoryData | None]:
    """The config to run with and the checked in-memory data, or `(config, None)` without data."""
    if data is None:
        return config, None
    if task.check_data is None:
        takers = ", ".join(n for n in registry.list_pipelines() if registry.get_task(n).check_data is not None)
        raise ConfigError(
            f"pipeline {task.name!r} reads its data from files (see its data_dir / dataset settings); "
            f"data= is taken by: {takers}."
        )
    return task.check_data(config, data)


def _keep_data(kept: InMemoryData | None, run_dir: Path) -> None:
    """Writes the copy of in-memory data into the run folder (with the report, never before)."""
    if kept is not None:
        content = kept.content.encode("utf-8") if isinstance(kept.content, str) else kept.content
        atomic.write_bytes(run_dir / kept.file_name, content)


def _new_report(task: registry.Task, config: Any) -> Report:
    from pipelines.evaluation.report import Report

    report = Report(task.name, config=config_to_dict(config))
    report.extra["created"] = now()
    return report


@contextlib.contextmanager
def _run_directory(config: Any, label: str) -> Iterator[Path]:
    """Makes the run directory and holds it for this run (see `lock_run_dir`) until the block ends.

    On bad input or an interruption the folders made for the run are removed again (only
    empty ones: nothing was written into them).
    """
    keep, new_parents = existing_dir(config.out), missing_parents(config.out, label)
    run_dir = make_run_dir(config.out, label)
    release = lock_run_dir(run_dir)  # refused: the folder is another run's, and nothing here is cleaned
    try:
        yield run_dir
    except BaseException:
        release()
        remove_empty_dirs(run_dir, keep_root=keep, parents=new_parents)
        raise
    release()


@contextlib.contextmanager
def _started_run(
    run_dir: Path, config: Any, report: Report, cluster: Any = None, kept: InMemoryData | None = None
) -> Iterator[RunContext]:
    """Seeds, places and records the environment; yields the run context.

    What `run` and `evaluate` share. A diverged run writes its failed report beside its best
    checkpoint. The block's wall time is the report's `total_seconds`.
    """
    from pipelines import devices  # TensorFlow is imported only once a run really starts

    start = time.perf_counter()
    try:
        with _seeded(config), devices.precision_policy(config.precision):
            strategy = _make_strategy(config, cluster)
            report.environment = environment(config, devices.describe_strategy(strategy))
            if cluster is not None:
                # TensorFlow's class is CollectiveAllReduceStrategy; users know it by its public name.
                report.environment.update(strategy="MultiWorkerMirroredStrategy", cluster=cluster.describe())
            yield RunContext(
                run_dir=run_dir, strategy=strategy, report=report, cluster=cluster, data=kept.value if kept else None
            )
    except TrainingDivergedError as e:
        _keep_data(kept, run_dir)  # the failed report names the data it trained on
        write_failed_report(report, run_dir, e, time.perf_counter() - start)
        raise
    report.timings["total_seconds"] = time.perf_counter() - start


def _write_report(report: Report, run_dir: Path) -> None:
    """Links the run's other files from the report, then writes it (atomically)."""
    add_links(report, run_dir)
    report.write(run_dir)


def _result(
    model: Any, config: Any, report: Report, run_dir: Path, *, history: dict[str, list[float]] | None = None
) -> RunResult:
    """Prints the run's last lines and returns its result."""
    print_done(config, run_dir, report.metrics)
    return RunResult(
        model=model,
        history=report.history if history is None else history,
        metrics=dict(report.metrics),
        report_dir=run_dir,
        config=config,
        report=report.to_dict(),
    )


def _resolve(name_or_config: Any, overrides: Mapping[str, Any], data: Any = None) -> tuple[registry.Task, Any]:
    if isinstance(name_or_config, str):
        task = registry.get_task(registry.check_name(name_or_config))
        return task, resolve_config(task, overrides, data=data)  # with the data's own defaults
    if dataclasses.is_dataclass(name_or_config) and not isinstance(name_or_config, type):
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


def _run_worker(task: registry.Task, config: Any, cluster: Any, kept: InMemoryData | None) -> RunResult:
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
                ctx = RunContext(
                    run_dir=scratch,
                    strategy=strategy,
                    report=report,
                    cluster=cluster,
                    data=kept.value if kept else None,
                )
                model = task.train(config, ctx)
        wait_for_all_workers(strategy)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if config.verbose:
        print(f"Worker {cluster.rank} of {cluster.num_workers} done; the chief writes the report.", flush=True)
    return RunResult(model=model, history=report.history, metrics={}, report_dir=None, config=config)


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
