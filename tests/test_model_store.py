"""Tests of the kept-model store: trained once, then reused; never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.model_store import kept_model, models_dir


def test_models_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_MODELS_DIR", str(tmp_path / "kept"))
    assert models_dir() == tmp_path / "kept"


def test_a_kept_model_is_trained_once_then_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_MODELS_DIR", str(tmp_path / "kept"))
    calls = []

    def train(run_dir):
        calls.append(run_dir)
        Path(run_dir, "model.keras").write_bytes(b"PK-model")
        Path(run_dir, "model_card.json").write_text(json.dumps({"pipeline": "demo"}))

    first = kept_model("demo", train)
    second = kept_model("demo", train)
    assert first == second == tmp_path / "kept" / "demo.keras" and len(calls) == 1
    assert first.read_bytes() == b"PK-model"
    assert json.loads((tmp_path / "kept" / "demo.model_card.json").read_text()) == {"pipeline": "demo"}
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["demo.keras", "demo.model_card.json"]


def test_a_failed_training_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_MODELS_DIR", str(tmp_path / "kept"))

    def train(run_dir):
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="^diverged$"):
        kept_model("demo", train)
    assert list((tmp_path / "kept").iterdir()) == []
