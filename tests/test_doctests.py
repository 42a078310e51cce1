"""Every `>>>` example in the package runs, and none is skipped.

Examples that need the real datasets, minutes of training or a cluster are written as
plain usage blocks instead, so that a `>>>` line in a docstring is always a checked one.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import pipelines

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(pipelines.__path__, prefix="pipelines.")
    if info.name != "pipelines.__main__"  # runs the CLI when imported
)


@pytest.mark.parametrize("name", ["pipelines", *MODULES])
def test_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_no_example_is_skipped():
    root = Path(pipelines.__file__).parent
    skipped = [str(path.relative_to(root)) for path in root.rglob("*.py") if "doctest: +SKIP" in path.read_text()]
    assert not skipped, f"examples that never run (write them as usage blocks instead): {skipped}"
    # The walk above finds the modules that hold examples: a renamed package would silently find none.
    assert len(MODULES) > 50 and "pipelines.sklearn.image_classifier" in MODULES
