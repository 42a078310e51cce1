"""Shared test set-up.

TensorFlow's start-up chatter is silenced, and each test gets its own empty dataset cache
and runs offline, so no test downloads or writes into the checkout's data/ folder.
Real-data tests read PIPELINES_DATA_DIR (CI points it at ../shared/datasets).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REAL_DATA_DIR = os.environ.get("PIPELINES_DATA_DIR")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")
    monkeypatch.setenv("PIPELINES_MODELS_DIR", str(tmp_path_factory.mktemp("models")))


@pytest.fixture
def real_data_dir() -> Path:
    """The real datasets folder; the test is skipped when PIPELINES_DATA_DIR is unset."""
    if not REAL_DATA_DIR or not Path(REAL_DATA_DIR).is_dir():
        pytest.skip("PIPELINES_DATA_DIR is not set; point it at a folder holding mnist/, advertising/, sentiment/")
    return Path(REAL_DATA_DIR)


@pytest.fixture
def python_env() -> dict[str, str]:
    """Environment for subprocesses that import the package from this checkout."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


PYTHON = sys.executable
