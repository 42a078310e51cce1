"""The sanity mode (`overfit_batches=N`): memorize a few batches, and say whether the model could."""

from __future__ import annotations

import json

import pytest
from synthetic_images import bar_digits
from synthetic_texts import polar_texts
from two_replica_runs import PIPELINE_RUNS

import pipelines
from pipelines.errors import ConfigError
from pipelines.overfit import VERDICT_FILE
from pipelines.tasks import denoising_autoencoder

QUICK_MNIST = dict(dataset="digits", epochs=10, batch_size=64, verbose=0, overfit_batches=1)


@pytest.mark.slow
def test_a_working_net_memorizes_a_batch_and_a_dead_one_does_not(tmp_path):
    works = pipelines.run("mnist", out=str(tmp_path / "works"), **QUICK_MNIST)
    verdict = json.loads((tmp_path / "works" / VERDICT_FILE).read_text())
    # Measured: accuracy 0.03 -> 1.0 on the 64 images after 45 passes; the cap is the run's 10 x 22 steps.
    assert verdict["memorized"] and verdict["judged_by"] == "accuracy" and verdict["passes"] < 220
    assert works.metrics["overfit_memorized"] == 1.0 and works.metrics["overfit_accuracy_after"] >= 0.99
    assert "Sanity check: memorizing a few batches" in (tmp_path / "works" / "report.md").read_text()
    # A learning rate that moves nothing is the kind of bug the mode is for.
    dead = pipelines.run("mnist", learning_rate=1e-8, out=str(tmp_path / "dead"), **{**QUICK_MNIST, "epochs": 1})
    assert dead.metrics["overfit_memorized"] == 0.0 and dead.metrics["overfit_accuracy_after"] < 0.2
    assert "**did not** memorize them" in (tmp_path / "dead" / "report.md").read_text()


@pytest.mark.slow
def test_the_autoencoder_is_judged_by_its_squared_error(tmp_path, monkeypatch):
    data = bar_digits(600, 200, seed=0)
    monkeypatch.setattr(denoising_autoencoder, "load_mnist_family", lambda name, data_dir=None: data)
    settings = {**PIPELINE_RUNS["denoising_autoencoder"], "epochs": 20, "verbose": 0, "overfit_batches": 2}
    result = pipelines.run("denoising_autoencoder", out=str(tmp_path), **settings)
    verdict = json.loads((tmp_path / VERDICT_FILE).read_text())
    # Measured: mse 0.180 -> 0.017 in 14 passes (memorized: at most a tenth).
    assert verdict["judged_by"] == "mse" and verdict["batches"] == 2 and verdict["memorized"]
    assert result.metrics["overfit_mse_after"] <= 0.1 * result.metrics["overfit_mse_before"]


@pytest.mark.slow
def test_sentiment_memorizes_texts(tmp_path):
    texts, labels = polar_texts(200, seed=0)
    settings = {**PIPELINE_RUNS["sentiment"], "epochs": 8, "verbose": 0, "overfit_batches": 2}
    result = pipelines.run("sentiment", data=(texts, labels), class_names=["neg", "pos"], out=str(tmp_path), **settings)
    assert result.metrics["overfit_memorized"] == 1.0
    assert "- folds/0: memorized them" in (tmp_path / "report.md").read_text()  # one verdict per fold


def test_overfit_batches_is_refused_on_several_workers(tmp_path):
    with pytest.raises(ConfigError, match="overfit_batches is a one-machine sanity check"):
        pipelines.run("mnist", overfit_batches=2, workers=("localhost:1", "localhost:2"), worker_index=0)
    with pytest.raises(ConfigError, match="overfit_batches must be >= 0"):
        pipelines.run("vit", overfit_batches=-1, out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()
