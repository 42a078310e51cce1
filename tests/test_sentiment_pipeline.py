"""Tests of the `sentiment` pipeline: config checks, ensemble weighting, the raw-string
model round trip on synthetic texts, and short runs on the real MR and IMDB data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from browser import assert_report_renders
from synthetic_texts import polar_texts

import pipelines
from pipelines.errors import ConfigError, DataValidationError
from pipelines.models import load_model
from pipelines.nets.snapshots import snapshot_members
from pipelines.tasks.sentiment import EXAMPLE_TEXTS, ensemble_weight, run_texts


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(dataset="custom"), "custom_csv"),
        (dict(custom_csv="x.csv"), "dataset='custom'"),
        (dict(units=()), "units"),
        (dict(class_names=("a", "a")), "class_names"),
        (dict(rnn="transformer"), "rnn"),
        (dict(head_fraction=1.5), "head_fraction"),
    ],
)
def test_bad_config_is_refused_before_any_work(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        pipelines.run("sentiment", out=str(tmp_path / "run"), **overrides)
    assert not (tmp_path / "run").exists()


def test_ensemble_weight_prefers_the_better_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    informative = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.1, 400), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 400)
    assert ensemble_weight(y, informative, noise) >= 0.9
    assert ensemble_weight(y, noise, informative) <= 0.1


def test_run_texts_rejects_bad_labels_before_writing(tmp_path):
    with pytest.raises(DataValidationError, match="Received 1 other labels, e.g. 'meh' at index"):
        run_texts(["good", "bad", "fine"], ["pos", "neg", "meh"], class_names=["neg", "pos"], out=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_custom_texts_cross_validate_and_export_a_raw_string_model(tmp_path):
    texts, labels = polar_texts(240)
    result = run_texts(
        texts,
        labels,
        class_names=["neg", "pos"],
        out=str(tmp_path / "run"),
        cv_folds=2,
        epochs=4,
        batch_size=16,
        learning_rate=1e-2,
        embed_dim=16,
        units=(8,),
        max_tokens=100,
        sequence_length=16,
        verbose=0,
    )
    m = result.metrics
    for key in (
        "cv_accuracy_mean",
        "cv_accuracy_std",
        "baseline_cv_accuracy_mean",
        "ensemble_cv_accuracy_mean",
        "accuracy",
        "roc_auc",
        "f1",
        "average_precision",
    ):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["cv_accuracy_mean"] > 0.8 and m["baseline_cv_accuracy_mean"] > 0.8
    # The saved model takes raw strings and survives a safe reload.
    reloaded = load_model(result.report_dir / "model.keras")
    probe = tf.constant([["good great film"], ["awful boring film"], *[[t] for t in EXAMPLE_TEXTS]])
    p = reloaded.predict(probe, verbose=0)[:, 0]
    np.testing.assert_allclose(p, result.model.predict(probe, verbose=0)[:, 0], rtol=1e-5)
    assert p[0] > 0.5 > p[1]
    assert (result.report_dir / "input.csv").exists()
    for key in ("accuracy", "roc_auc", "f1"):  # out-of-fold predictions of all 240 texts, resampled
        assert m[f"{key}_ci_low"] <= m[key] <= m[f"{key}_ci_high"], key
    assert_report_renders(result.report_dir / "report.html", min_images=5)


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


def test_init_from_fine_tunes_a_saved_model_and_keeps_its_vocabulary(tmp_path):
    texts, labels = polar_texts(160, seed=1)
    first = run_texts(
        texts,
        labels,
        class_names=["neg", "pos"],
        out=str(tmp_path / "first"),
        cv_folds=2,
        refit=False,
        epochs=3,
        batch_size=16,
        learning_rate=1e-2,
        embed_dim=16,
        units=(8,),
        max_tokens=100,
        sequence_length=16,
        with_baseline=False,
        verbose=0,
    )
    # New texts with a word the first vocabulary never saw: it must stay out of vocabulary.
    more_texts = [t + " zyzzyva" for t in polar_texts(120, seed=2)[0]]
    tuned = run_texts(
        more_texts,
        polar_texts(120, seed=2)[1],
        class_names=["neg", "pos"],
        out=str(tmp_path / "tuned"),
        init_from=str(first.report_dir / "model.keras"),
        cv_folds=2,
        refit=False,
        epochs=1,
        batch_size=16,
        learning_rate=1e-3,
        with_baseline=False,
        verbose=0,
    )
    vocabulary = [layer for layer in tuned.model.layers if hasattr(layer, "get_vocabulary")][0].get_vocabulary()
    first_vocabulary = [layer for layer in first.model.layers if hasattr(layer, "get_vocabulary")][0].get_vocabulary()
    assert vocabulary == first_vocabulary and "zyzzyva" not in vocabulary
    # One gentle epoch from a trained start already separates the classes.
    assert tuned.metrics["cv_accuracy_mean"] > 0.8


def test_init_from_must_name_a_model(tmp_path):
    with pytest.raises(ConfigError, match="init_from"):
        pipelines.get_config("sentiment", init_from=str(tmp_path / "missing.keras"))


def test_init_from_a_checkpoint_ensemble_fine_tunes_its_last_snapshot(tmp_path):
    from pipelines.inputs.text_dataset import make_vectorizer
    from pipelines.nets.rnn import make_text_rnn
    from pipelines.nets.snapshots import snapshot_ensemble
    from pipelines.tasks.sentiment import SentimentConfig, load_pretrained, make_end_to_end

    vectorizer = make_vectorizer(np.array(["a good film", "a bad film"]), max_tokens=20, sequence_length=8)
    net = make_text_rnn(vectorizer.vocabulary_size(), embed_dim=8, units=(4,))
    last = [w + 1.0 for w in net.get_weights()]
    path = tmp_path / "model.keras"
    make_end_to_end(vectorizer, snapshot_ensemble(net, [net.get_weights(), last])).save(path)
    _, loaded = load_pretrained(SentimentConfig(init_from=str(path)))
    # One net (not the ensemble, which would be fine-tuned jointly and nest on each generation), the last one.
    assert loaded.name == "text_rnn_snapshot1" and loaded.count_params() == net.count_params()
    for got, want in zip(loaded.get_weights(), last):
        np.testing.assert_allclose(got, want)
