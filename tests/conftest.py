"""Shared test set-up.

TensorFlow's start-up chatter is silenced, and each test gets its own empty dataset cache
and runs offline, so no test downloads or writes into the checkout's data/ folder.
Real-data tests read PIPELINES_DATA_DIR (CI points it at ../shared/datasets) and carry the
`realdata` marker; a test that asks for `real_data_dir` without the marker is a collection error.
With PIPELINES_REQUIRE_DATA=1 (set by `.ci/run`) a skipped `realdata` test fails instead, so
missing data can never turn CI green by skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist two worker processes share the two cores; TensorFlow's default of one
# intra-op thread per core made them contend (measured on six training-heavy test files:
# 119-123 s with the default, 109-113 s with one thread). Read when TensorFlow starts, so here,
# before any test imports it; subprocesses of tests inherit it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

REAL_DATA_DIR = os.environ.get("PIPELINES_DATA_DIR")
REQUIRE_DATA = os.environ.get("PIPELINES_REQUIRE_DATA") == "1"
# Measured, in one process: the two-replica subprocess about 120 s, the real sentiment runs 110 s.
LONGEST = ("test_mirrored", "test_sentiment_real_data")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if "real_data_dir" in getattr(item, "fixturenames", ()) and item.get_closest_marker("realdata") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"tests that read real data must be marked @pytest.mark.realdata: {unmarked}")
    # `make test` deals whole files to two pytest-xdist workers; long files dealt last would leave
    # one worker idle while the other finishes them. So the two longest go first (one to each
    # worker), then the other modules with slow tests, each module's tests together and in order.
    heavy = {item.module.__name__ for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: (item.module.__name__ not in LONGEST, item.module.__name__ not in heavy))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    if REQUIRE_DATA and report.skipped and item.get_closest_marker("realdata") is not None:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"PIPELINES_REQUIRE_DATA=1, and this real-data test was skipped: {reason}"
    return report


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")
    monkeypatch.setenv("PIPELINES_MODELS_DIR", str(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="session")
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


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """An existing directory in which this process cannot create anything, root included.

    Permissions do not stop root, so as root the directory is made immutable (`chattr +i`).
    """
    locked = tmp_path / "locked"
    locked.mkdir()
    is_root = os.geteuid() == 0
    if is_root:
        subprocess.run(["chattr", "+i", str(locked)], check=True, capture_output=True)
    else:
        locked.chmod(0o500)
    try:
        with pytest.raises(OSError):
            (locked / "probe").mkdir()
        yield locked
    finally:
        if is_root:
            subprocess.run(["chattr", "-i", str(locked)], check=True, capture_output=True)
        else:
            locked.chmod(0o700)
