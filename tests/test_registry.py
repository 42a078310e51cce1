"""Tests of the registry and of every registered pipeline's default config."""

from __future__ import annotations

import dataclasses

import pytest

import pipelines
from pipelines import registry
from pipelines.config import TrainConfig, field_docs, validate_config
from pipelines.errors import UnknownPipelineError


def test_list_pipelines_is_sorted_and_has_mnist():
    names = pipelines.list_pipelines()
    assert names == sorted(names) and "mnist" in names


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownPipelineError, match=r"unknown pipeline 'mnits'\. Available pipelines: .*mnist"):
        pipelines.get_config("mnits")
    with pytest.raises(LookupError, match="unknown pipeline 'mnits'"):
        pipelines.run("mnits")


def test_duplicate_registration_is_an_error():
    registry.get_task("mnist")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mnist", config=TrainConfig, summary="x")(lambda config, ctx: None)


@pytest.mark.parametrize("name", registry.list_pipelines())
def test_every_pipeline_has_a_valid_documented_default_config(name):
    config = pipelines.get_config(name)
    assert dataclasses.is_dataclass(config)
    validate_config(config)
    undocumented = [row[0] for row in field_docs(type(config)) if not row[3]]
    assert not undocumented
    assert registry.get_task(name).summary


@pytest.mark.parametrize("name", registry.list_pipelines())
def test_get_config_applies_overrides(name):
    assert pipelines.get_config(name, seed=7).seed == 7


def test_every_registered_pipeline_has_a_two_replica_run_and_a_sanity_bar():
    # test_mirrored.py trains the runs of two_replica_runs.py under MirroredStrategy: a pipeline
    # registered without its entries there fails here, instead of going untested.
    from test_mirrored import SANITY
    from two_replica_runs import PIPELINE_RUNS

    assert sorted(PIPELINE_RUNS) == sorted(SANITY) == registry.list_pipelines()


def test_prepare_runs_before_the_run_starts_and_its_config_is_the_one_reported(tmp_path, monkeypatch):
    import json

    import keras

    @dataclasses.dataclass
    class TinyConfig(TrainConfig):
        pass

    seen = {}

    def prepare(config):
        # Where a pipeline resolves a kept model (trained on first use): no run directory exists yet.
        seen["run_dir_existed"] = (tmp_path / "run").exists()
        return dataclasses.replace(config, seed=99)

    def train(config, ctx):
        seen["seed"] = config.seed
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setitem(registry.BUILTIN_MODULES, "tiny", "tiny_module_never_imported")
    registry.register("tiny", config=TinyConfig, summary="a test pipeline", prepare=prepare)(train)

    result = pipelines.run("tiny", out=str(tmp_path / "run"), verbose=0)
    assert seen == {"run_dir_existed": False, "seed": 99}
    assert json.loads((result.report_dir / "report.json").read_text())["config"]["seed"] == 99
