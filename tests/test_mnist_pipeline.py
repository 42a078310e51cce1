"""The mnist pipeline on the real MNIST files (PIPELINES_DATA_DIR), kept short."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pipelines
from pipelines.models import load_model


@pytest.mark.realdata
@pytest.mark.slow
def test_short_real_run_is_well_above_chance(real_data_dir, tmp_path):
    result = pipelines.run("mnist", data_dir=str(real_data_dir), out=str(tmp_path / "run"),
                           epochs=1, max_train_samples=6000, verbose=0)
    report = json.loads((result.report_dir / "report.json").read_text())
    assert report["dataset"]["name"] == "mnist" and report["dataset"]["checksum_verified"] is True
    assert report["dataset"]["splits"] == {"train": 6000, "validation": 3000, "test": 10000}  # 5 % of 60k
    # Chance is 10 %; one epoch on 6k images gives about 95 %.
    assert result.metrics["accuracy"] > 0.85
    assert result.metrics["roc_auc_ovr_macro"] > 0.98

    reloaded = load_model(result.report_dir / "model.keras")
    x = np.random.default_rng(0).random((8, 28, 28, 1), dtype="float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
