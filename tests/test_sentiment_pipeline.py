"""Tests of the `sentiment` pipeline: config checks, ensemble weighting, the raw-string
model round trip and `init_from` on synthetic texts (the real MR and IMDB runs are in
test_sentiment_real_data.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from browser import assert_report_renders
from synthetic_texts import polar_texts

import pipelines
from pipelines.errors import ConfigError, DataValidationError
from pipelines.models import load_model
from pipelines.recipes.sentiment_report import ensemble_weight
from pipelines.recipes.text_classifier import EXAMPLE_TEXTS
from pipelines.tasks.sentiment import run_texts


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


@pytest.mark.slow
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


@pytest.mark.slow
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
    from pipelines.recipes.text_classifier import load_pretrained, make_end_to_end
    from pipelines.tasks.sentiment import SentimentConfig

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
