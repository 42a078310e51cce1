"""The sanity mode (`overfit_batches=N`): memorize a few batches, and say whether the model could."""

from __future__ import annotations

import json

import pytest
from synthetic_images import bar_digits
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


def test_a_cross_validated_run_memorized_if_every_fold_did(tmp_path):
    # Each fold's fit writes its verdict in folds/<k>/ (sentiment's CV); the report reads them all.
    from pipelines.evaluation.report import Report
    from pipelines.overfit import add_verdict

    for k, (after, memorized) in enumerate([(1.0, True), (0.75, False)]):
        (tmp_path / "folds" / str(k)).mkdir(parents=True)
        verdict = {"batches": 2, "passes": 9, "judged_by": "accuracy", "before": 0.5, "after": after}
        (tmp_path / "folds" / str(k) / VERDICT_FILE).write_text(json.dumps({**verdict, "memorized": memorized}))
    report = Report("sentiment")
    add_verdict(report, tmp_path)
    assert report.metrics == {
        "overfit_memorized": 0.0,
        "overfit_accuracy_before": 0.5,
        "overfit_accuracy_after": 0.875,
    }
    text = report.render_markdown()
    assert "folds/0: memorized them" in text and "folds/1: **did not** memorize them" in text


def test_overfit_batches_is_refused_on_several_workers(tmp_path):
    with pytest.raises(ConfigError, match="overfit_batches is a one-machine sanity check"):
        pipelines.run("mnist", overfit_batches=2, workers=("localhost:1", "localhost:2"), worker_index=0)
    with pytest.raises(ConfigError, match="overfit_batches must be >= 0"):
        pipelines.run("vit", overfit_batches=-1, out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()
