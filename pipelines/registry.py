"""The pipeline registry: a name maps to a config dataclass, a train function and an evaluator.

Built-in pipelines are listed by module so that `list_pipelines()` and name checks do not
import TensorFlow; a task module registers itself with `@register(...)` when imported.

Example:
    >>> "mnist" in list_pipelines()
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.errors import UnknownPipelineError
from pipelines.tuning.objective import TuneSpec

__all__ = ["Task", "register", "get_task", "list_pipelines", "multi_worker_pipelines", "BUILTIN_MODULES"]

# Name -> module that registers it. Only modules that exist are listed.
BUILTIN_MODULES: dict[str, str] = {
    "mnist": "pipelines.tasks.mnist",
    "advertising": "pipelines.tasks.advertising",
    "denoising_autoencoder": "pipelines.tasks.denoising_autoencoder",
    "sentiment": "pipelines.tasks.sentiment",
    "vit": "pipelines.tasks.vit",
    "dcgan": "pipelines.tasks.dcgan",
}

_TASKS: dict[str, Task] = {}


@dataclass(frozen=True)
class Task:
    """A registered pipeline.

    Attributes:
        name: The registry name.
        config_cls: The config dataclass; its defaults are the pipeline's defaults.
        train: `train(config, ctx) -> keras.Model`; builds data and model, trains, evaluates
            into `ctx.report` and returns the model to save.
        evaluate: `evaluate(model, config, ctx) -> None`; evaluates a saved model on the
            pipeline's test data into `ctx.report` (the CLI's `evaluate` command).
        summary: One line for `pipelines list`.
        multi_worker: Whether `train` supports a multi-worker cluster (`pipelines.multiworker`):
            its training goes through the custom loop instead of `fit()`.
        prepare: `prepare(config) -> config`, called by the runner before a run (or an
            evaluation) starts: resolves what the run needs from outside it, such as a kept
            model trained on first use, so that `train` never starts another run.
        check_model: `check_model(model, config) -> None`, called by `evaluate` right after a
            saved model is loaded, before anything else: refuses (`ModelLoadError`) a model
            whose inputs or outputs do not fit the pipeline (see `models.check_model_io`).
        check_data: `check_data(config, data) -> (config, InMemoryData)`, for pipelines that
            accept data in memory (`run(name, data=...)`): checks it before any work starts
            (see `pipelines.in_memory`). `None`: the pipeline reads its data from files only.
        tune: The tuning objective, default search space and trial settings
            (`pipelines.tuning.objective.TuneSpec`); `None`: `pipelines tune` refuses it.
        data_defaults: `data_defaults(config, data) -> {key: value}`: the defaults measured
            for the configured data (or `data` passed in memory), applied to the fields the
            caller did not set (see `pipelines.data_defaults`). `None`: one set of defaults.
    """

    name: str
    config_cls: type
    train: Callable[..., Any]
    evaluate: Callable[..., Any] | None
    summary: str
    multi_worker: bool = False
    prepare: Callable[[Any], Any] | None = None
    check_data: Callable[[Any, Any], Any] | None = None
    check_model: Callable[[Any, Any], None] | None = None
    data_defaults: Callable[[Any, Any], dict[str, Any]] | None = None
    tune: TuneSpec | None = None


def register(
    name: str,
    *,
    config: type,
    summary: str,
    evaluate: Callable[..., Any] | None = None,
    multi_worker: bool = False,
    prepare: Callable[[Any], Any] | None = None,
    data: Callable[[Any, Any], Any] | None = None,
    check_model: Callable[[Any, Any], None] | None = None,
    data_defaults: Callable[[Any, Any], dict[str, Any]] | None = None,
    tune: TuneSpec | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a pipeline's train function under `name`.

    `multi_worker=True` declares that `train` supports a multi-worker cluster; runs of the
    other pipelines with `--workers` or `TF_CONFIG` are refused before any work. `prepare`
    resolves a run's outside needs before it starts (see `Task.prepare`); `data` checks data
    passed in memory (see `Task.check_data`); `check_model` checks a saved model's inputs and
    outputs for `evaluate` (see `Task.check_model`); `data_defaults` gives the defaults
    measured for other data (see `Task.data_defaults`); `tune` its tuning objective (see
    `Task.tune`).

    Raises:
        ValueError: `name` is already registered.
    """

    def decorator(train: Callable[..., Any]) -> Callable[..., Any]:
        if name in _TASKS:
            raise ValueError(f"pipeline {name!r} is already registered by {_TASKS[name].train.__module__}")
        _TASKS[name] = Task(
            name=name,
            config_cls=config,
            train=train,
            evaluate=evaluate,
            summary=summary,
            multi_worker=multi_worker,
            prepare=prepare,
            check_data=data,
            check_model=check_model,
            data_defaults=data_defaults,
            tune=tune,
        )
        return train

    return decorator


def list_pipelines() -> list[str]:
    """The names of every available pipeline, sorted."""
    return sorted(set(BUILTIN_MODULES) | set(_TASKS))


def multi_worker_pipelines() -> list[str]:
    """The names of the pipelines that train on a multi-worker cluster (imports them all)."""
    return [name for name in list_pipelines() if get_task(name).multi_worker]


def check_name(name: object) -> str:
    """Returns `name` if it is a known pipeline, without importing it.

    Raises:
        UnknownPipelineError: Not a registered pipeline name.
    """
    if not isinstance(name, str) or name not in list_pipelines():
        raise UnknownPipelineError(f"unknown pipeline {name!r}. Available pipelines: {', '.join(list_pipelines())}")
    return name


def get_task(name: str) -> Task:
    """Imports (if needed) and returns the registered pipeline `name`.

    Raises:
        UnknownPipelineError: Not a registered pipeline name.
    """
    check_name(name)
    if name not in _TASKS:
        importlib.import_module(BUILTIN_MODULES[name])
    return _TASKS[name]
