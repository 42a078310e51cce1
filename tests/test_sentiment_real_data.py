"""Short runs of the `sentiment` pipeline on the real MR and IMDB data (PIPELINES_DATA_DIR).

A module of their own: together they take about two minutes, and `make test` deals whole
files to its two workers.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from serving import assert_exports_match, assert_loads_in_a_fresh_process

import pipelines
from pipelines.errors import ConfigError
from pipelines.export import export_run
from pipelines.inputs.text.mr import load_mr
from pipelines.models import load_model
from pipelines.nets.snapshots import snapshot_members
from pipelines.recipes.text_classifier import EXAMPLE_TEXTS, predict_raw_texts


@pytest.mark.realdata
@pytest.mark.slow
def test_mr_cross_validation_on_real_data(real_data_dir, tmp_path):
    result = pipelines.run(
        "sentiment",
        dataset="mr",
        data_dir=str(real_data_dir),
        out=str(tmp_path / "run"),
        cv_folds=2,
        epochs=1,
        refit=False,
        max_tokens=8000,
        sequence_length=40,
        verbose=0,
    )
    assert result.report["dataset"]["splits"]["total"] == 10662
    # Measured over seeds 1337, 1 and 2: the RNN 0.710, 0.710, 0.712; the TF-IDF baseline 0.760 each.
    assert result.metrics["baseline_cv_accuracy_mean"] > 0.745
    assert result.metrics["cv_accuracy_mean"] > 0.69
    # Used and shipped: the saved model (the last fold's) on real snippets through the predictor, the
    # SavedModel export taking raw strings, ONNX refused with the reason, plain Keras in a fresh process.
    data = load_mr(real_data_dir)
    texts = data.texts_train[::50]  # 214 snippets of both classes, seen and unseen by the last fold
    predictor = pipelines.load(result.report_dir)
    proba = predictor.predict_proba(list(texts))
    np.testing.assert_allclose(proba[:, 1], predict_raw_texts(result.model, texts), atol=1e-6)
    assert np.mean(proba.argmax(axis=1) == data.y_train[::50]) > 0.69
    assert_exports_match(
        result.report_dir, tmp_path / "export", {"texts": texts}, {"probabilities": proba}, formats=("saved_model",)
    )
    with pytest.raises(
        ConfigError, match="cannot be exported to onnx: the model reads raw strings.*exports to: saved_model"
    ):
        export_run(result.report_dir, "onnx", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()
    assert_loads_in_a_fresh_process(result.report_dir / "model.keras", result.model)


@pytest.mark.realdata
@pytest.mark.slow
def test_imdb_short_run_on_real_data(real_data_dir, tmp_path):
    result = pipelines.run(
        "sentiment",
        data_dir=str(real_data_dir),
        out=str(tmp_path / "run"),
        epochs=2,
        max_train_samples=3000,
        sequence_length=100,
        with_baseline=True,
        verbose=0,
    )
    assert result.report["dataset"]["splits"]["test"] == 25000
    # Two epochs: the saved model averages two snapshots of the net.
    net = next(layer for layer in result.model.layers if isinstance(layer, keras.Model))
    assert [member.name for member in snapshot_members(net)] == ["text_rnn_snapshot0", "text_rnn_snapshot1"]
    report_md = (result.report_dir / "report.md").read_text()
    assert "Checkpoint ensemble" in report_md
    # refit=True (the default): validation chose the weight and threshold, then a second run on all
    # 3,000 texts made the model that is tested and saved; the curves are the validated run's.
    assert "second run of 2 epochs on all 3,000 training texts" in report_md
    assert result.report["timings"]["refit_seconds"] > 0 and len(result.report["history"]["val_loss"]) == 2
    assert "groups of texts that share rare words" in result.report["dataset"]["validation_split"]
    # Measured over seeds 1337, 1 and 2: the RNN 0.757, 0.776, 0.796 (0.755 on a later run of seed
    # 1337); the baseline 0.870, 0.869, 0.875; the ensemble 0.870 to 0.876.
    assert result.metrics["accuracy"] > 0.72
    assert result.metrics["baseline_accuracy"] > 0.85
    assert result.metrics["ensemble_accuracy"] > 0.85
    assert {"ensemble_accuracy", "ensemble_roc_auc", "baseline_roc_auc"} <= set(result.metrics)
    assert (result.report_dir / "report.html").exists() and (result.report_dir / "model.keras").exists()
    # The saved raw-string model of real reviews reloads (a vocabulary token holding U+0085 once broke this).
    probe = tf.constant([[t] for t in EXAMPLE_TEXTS])
    np.testing.assert_allclose(
        load_model(result.report_dir / "model.keras").predict(probe, verbose=0),
        result.model.predict(probe, verbose=0),
        rtol=1e-5,
    )
