"""Checks that a finished run can be used and shipped, shared by each pipeline's real-data test.

- `assert_loads_in_a_fresh_process`: the README's plain-Keras loading snippet, run as written
  in a new Python process on the run's `model.keras`.
- `assert_exports_match`: `pipelines export` to each format, the artifact run by its own runtime
  on real inputs, against the predictor's numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.export import ARTIFACTS, export_run, run_artifact

README = Path(__file__).resolve().parents[1] / "README.md"
_README_PATH = "runs/m1/model.keras"


def readme_loading_snippet() -> str:
    """The README's Python block that loads a `model.keras` with plain Keras."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        if "keras.saving.load_model" in block and "pipelines.keras_objects" in block:
            return block
    raise AssertionError("README.md has no block loading a model with keras.saving.load_model")


def assert_loads_in_a_fresh_process(model_path: Path, model: Any) -> None:
    """Runs the README's snippet on `model_path` in a new process; it must load the same model."""
    snippet = readme_loading_snippet()
    assert _README_PATH in snippet, f"the README's snippet no longer loads {_README_PATH!r}"
    code = snippet.replace(_README_PATH, str(model_path)) + "\nprint(model.count_params())\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) == model.count_params()


def assert_exports_match(
    run_dir: Path,
    out: Path,
    inputs: dict[str, np.ndarray],
    expected: dict[str, np.ndarray],
    formats: tuple[str, ...] = ("saved_model", "onnx", "litert"),
    atol: float = 1e-5,
) -> None:
    """Exports `run_dir` to each format and checks the artifact's outputs on `inputs`.

    Float outputs must match `expected` to `atol` plus one part in a million (float32 keeps
    about seven digits: a sales figure of 23 moves by 1.3e-5 between runtimes); uint8 images
    to one grey level (the rounding of a float a hair from .5 may differ between runtimes).
    """
    for format in formats:
        folder = export_run(run_dir, format, out / format)
        got = run_artifact(folder / ARTIFACTS[format], inputs)
        assert set(got) == set(expected), (format, sorted(got))
        for key, want in expected.items():
            uint8 = want.dtype == np.uint8
            np.testing.assert_allclose(
                got[key].astype("float64"),
                want.astype("float64"),
                rtol=0 if uint8 else 1e-6,
                atol=1 if uint8 else atol,
                err_msg=f"{format} {key}",
            )
