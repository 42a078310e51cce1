"""The dcgan pipeline: config checks, the input step, a synthetic end-to-end run with a small
pre-built domain classifier, and a short run on the real MNIST files (PIPELINES_DATA_DIR)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from browser import assert_report_renders
from PIL import Image
from serving import assert_exports_match, assert_loads_in_a_fresh_process
from synthetic_images import bar_digits

import pipelines
from pipelines.cli import main
from pipelines.errors import ConfigError
from pipelines.inputs.mnist import ImageData
from pipelines.models import load_model
from pipelines.nets.cnn import make_cnn
from pipelines.nets.gan import generate, make_generator
from pipelines.recipes import gan as recipe
from pipelines.tasks import dcgan as task

METRICS = (
    "fid_domain",
    "fid_domain_real_floor",
    "inception_score_domain",
    "class_entropy",
    "min_class_fraction",
    "max_class_fraction",
    "discriminator_roc_auc",
)
TINY = {
    "generator_filters": (16, 8),
    "discriminator_filters": (8, 16),
    "batch_size": 32,
    "epochs": 1,
    "eval_samples": 200,
    "steps_per_execution": 4,
    "verbose": 0,
}


def _synthetic(n_train=320, n_test=200, seed=0) -> ImageData:
    return bar_digits(n_train, n_test, seed)


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
    """Synthetic data in place of MNIST, and a small classifier trained on it as the FID classifier."""
    data = _synthetic()
    monkeypatch.setattr(task, "load_mnist_family", lambda name, data_dir=None: data)
    keras.utils.set_random_seed(0)
    classifier = make_cnn((28, 28, 1), 10, stem_filters=8, filters=(16,))
    classifier.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.fit(data.x_train[..., None] / 255.0, data.y_train, epochs=2, batch_size=64, verbose=0)
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    return data, str(path)


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"generator_filters": (64,)}, "generator_filters needs 2 positive widths"),
        ({"discriminator_filters": (8, 8, 8, 8)}, "discriminator_filters needs 1 to 3"),
        ({"fid_classifier": "/no/such/model.keras"}, "fid_classifier must be a saved .keras file"),
        ({"dataset": "digits"}, "dataset must be one of"),
        ({"beta_1": 1.0}, "beta_1 must be < 1"),
        ({"eval_samples": 10}, "eval_samples must be >= 100"),
        ({"max_train_samples": 100, "batch_size": 128}, "max_train_samples must hold at least one full batch"),
        ({"clusters": 1}, "clusters must be 0 or at least 2"),
        ({"clusters": 10, "conditional": True}, "0 or None when conditional=True"),
        ({"clusters": 300, "max_train_samples": 256}, "clusters must not exceed the training images"),
        ({"max_train_samples": 100, "batch_size": 128, "clusters": 200}, "at least one full batch"),
    ],
)
def test_bad_config_is_rejected_before_any_work(overrides, match):
    with pytest.raises(ConfigError, match=match):
        pipelines.get_config("dcgan", **overrides)


def test_clusters_default_to_200_for_the_unconditional_gan_only():
    assert pipelines.get_config("dcgan").num_clusters == 200
    assert pipelines.get_config("dcgan", conditional=True).num_clusters == 0
    assert pipelines.get_config("dcgan", clusters=0).num_clusters == 0
    assert pipelines.get_config("dcgan", max_train_samples=256).num_clusters == 25


def test_a_quick_fid_classifier_is_never_named_like_the_real_one():
    real = recipe.fid_classifier_name(pipelines.get_config("dcgan"))
    quick = recipe.fid_classifier_name(
        pipelines.get_config("dcgan", fid_classifier_epochs=1, fid_classifier_train_samples=2000)
    )
    assert real == "fid_classifier_mnist_cnn" and quick == "fid_classifier_mnist_cnn_quick_e1_n2000"
    assert recipe.fid_classifier_name(pipelines.get_config("dcgan", dataset="fashion_mnist")).startswith(
        "fid_classifier_fashion_mnist"
    )


def test_input_step_scales_to_minus_one_one_drops_the_partial_batch_and_shuffles():
    x = np.repeat(np.arange(10, dtype="uint8")[:, None, None] * 25, 28 * 28, axis=1).reshape(10, 28, 28)
    ds = recipe.make_dataset(x, np.arange(10), batch_size=4, seed=0)
    batches = list(ds)
    assert len(batches) == 2 and all(tuple(b[0].shape) == (4, 28, 28, 1) for b in batches)
    images, labels = batches[0]
    # Each image still carries its own label after shuffling: pixel value = 25 * label.
    np.testing.assert_allclose(images.numpy()[:, 0, 0, 0], labels.numpy() * 25 / 127.5 - 1, atol=1e-6)
    black_and_white = np.zeros((4, 28, 28), "uint8")
    black_and_white[:, 0, 0] = 255
    values = np.concatenate(
        [b[0].numpy().ravel() for b in recipe.make_dataset(black_and_white, np.zeros(4), batch_size=2, seed=0)]
    )
    assert values.min() == -1.0 and values.max() == 1.0
    # Reshuffled each epoch (seeded).
    orders = [np.concatenate([b[1].numpy() for b in ds]).tolist() for _ in range(2)]
    assert orders[0] != orders[1]


@pytest.mark.parametrize("conditional", [False, True])
def test_synthetic_run_writes_generator_report_and_sample_grids(tmp_path, synthetic, conditional):
    data, classifier = synthetic
    r = pipelines.run(
        "dcgan", out=str(tmp_path / "run"), fid_classifier=classifier, conditional=conditional, sample_every=1, **TINY
    )
    for name in METRICS:
        assert r.metrics[name] is not None, name
    # Measured over seeds 1337, 1 and 2 (both modes): the discriminator tells real from generated at
    # ROC AUC 0.87 to 1.0 (0.5 is an untrained one); real against real sits at FID 0.011 to 0.016.
    # The FID itself cannot judge 10 steps: an untrained generator scores 1.96 against 1.95.
    assert r.metrics["discriminator_roc_auc"] > 0.8
    assert 0 <= r.metrics["fid_domain_real_floor"] < 0.1 < r.metrics["fid_domain"]
    assert 0 <= r.metrics["min_class_fraction"] <= 0.1 <= r.metrics["max_class_fraction"] <= 1
    assert ("conditional_accuracy" in r.metrics) == conditional
    run_dir = r.report_dir
    assert (run_dir / "samples" / "epoch_001.png").is_file() and (run_dir / "samples.png").is_file()
    report = json.loads((run_dir / "report.json").read_text())
    assert {"samples.png", "class_coverage.png", "discriminator_roc.png", "learning_curves.png"} <= set(
        report["figures"]
    )
    assert set(report["history"]) >= {"d_loss", "g_loss", "d_grad_norm", "g_grad_norm_max"}
    assert all(v > 0 for key in ("d_grad_norm", "g_grad_norm") for v in report["history"][key])
    assert "FID on a domain classifier" in (run_dir / "report.md").read_text()
    # model.keras is the generator: noise (+ labels) -> (n, 28, 28, 1) in [-1, 1], loadable with safe_mode.
    generator = load_model(run_dir / "model.keras")
    labels = np.arange(5) if conditional else None
    images = generate(generator, 5, seed=0, labels=labels)
    assert images.shape == (5, 28, 28, 1) and -1 <= images.min() <= images.max() <= 1
    np.testing.assert_allclose(images, generate(r.model, 5, seed=0, labels=labels), atol=1e-5)
    # pipelines.load samples the same images as uint8.
    sampled = pipelines.load(run_dir).sample(5, labels=labels, seed=0)
    assert sampled.dtype == np.uint8 and np.abs(sampled / 127.5 - 1 - images).max() <= 1 / 127.5 + 1e-5
    # pipelines sample writes the same images as PNGs, and a grid of them; bad labels write nothing.
    given = ["--labels", *map(str, labels)] if conditional else []
    assert main(["sample", str(run_dir), "-n", "5", "--out", str(tmp_path / "samples"), *given]) == 0
    written = sorted((tmp_path / "samples").glob("0*.png"))
    np.testing.assert_array_equal(np.stack([np.asarray(Image.open(p)) for p in written]), sampled[..., 0])
    assert Image.open(tmp_path / "samples" / "grid.png").size == (5 * 28, 28)
    bad = ["--labels", "99"] if conditional else ["--labels", "1"]
    assert main(["sample", str(run_dir), "-n", "2", "--out", str(tmp_path / "bad"), *bad]) == 2
    assert not (tmp_path / "bad").exists()
    card = json.loads((run_dir / "model_card.json").read_text())
    assert "noise (n, 100)" in card["inputs"] and card["fid_classifier"] == classifier
    # The unconditional GAN is conditioned on pixel clusters; both saved nets keep plain interfaces.
    clustered = not conditional
    assert ("Cluster conditioning" in (run_dir / "report.md").read_text()) == clustered
    if clustered:  # the note quotes the measured purity
        assert f"({r.metrics['cluster_purity']:.3f})" in (run_dir / "report.md").read_text()
    assert ("cluster_purity" in r.metrics) == clustered and (card["clusters"] is not None) == clustered
    discriminator = load_model(run_dir / "discriminator.keras")
    inputs = images if not conditional else [images, labels]
    assert discriminator.predict(inputs, verbose=0).shape == (5, 1)


def test_saved_generator_is_evaluated_by_the_cli_path(tmp_path, synthetic):
    data, classifier = synthetic
    # clusters=0: the plain DCGAN, end to end.
    r = pipelines.run("dcgan", out=str(tmp_path / "run"), fid_classifier=classifier, clusters=0, **TINY)
    assert "cluster_purity" not in r.metrics
    e = pipelines.evaluate(
        "dcgan",
        r.report_dir / "model.keras",
        out=str(tmp_path / "eval"),
        fid_classifier=classifier,
        eval_samples=200,
        verbose=0,
    )
    # Same generator, same seed: the same samples and so the same distance.
    assert e.metrics["fid_domain"] == pytest.approx(r.metrics["fid_domain"], rel=1e-4)
    assert "discriminator_roc_auc" not in e.metrics


@pytest.mark.slow
@pytest.mark.realdata
def test_short_real_mnist_run_produces_a_report_with_a_sample_grid(tmp_path, real_data_dir):
    # A quick kept classifier (1 epoch on 2,000 images) in the per-test models dir, never the real one.
    scoring = dict(
        data_dir=str(real_data_dir / "mnist"),
        eval_samples=1000,
        fid_classifier_epochs=1,
        fid_classifier_train_samples=2000,
        verbose=0,
    )
    r = pipelines.run("dcgan", out=str(tmp_path / "run"), epochs=1, max_train_samples=3840, **scoring)
    assert (r.report_dir / "samples.png").is_file() and (r.report_dir / "samples" / "epoch_001.png").is_file()
    assert r.report["dataset"]["splits"] == {"train": 3840, "test": 10_000}
    assert "fid_classifier_mnist_cnn_quick_e1_n2000" in r.report["dataset"]["fid_classifier"]
    # The quick classifier is retrained per run, which moves the FID more than 30 steps of training
    # do (measured: 27.6 to 35.2 trained, 33.5 to 38.4 untrained, over seeds and processes); against
    # the same classifier the trained generator always scored lower, by 2.7 to 7.5. So: the same
    # kept classifier scores an untrained generator of the same layout.
    untrained = tmp_path / "untrained.keras"
    keras.utils.set_random_seed(0)
    make_generator().save(untrained)
    control = pipelines.evaluate("dcgan", untrained, out=str(tmp_path / "control"), **scoring)
    assert control.report["dataset"]["fid_classifier"] == r.report["dataset"]["fid_classifier"]
    assert r.metrics["fid_domain"] < control.metrics["fid_domain"]
    # Measured: the real-data floor 0.59 to 0.64; discriminator ROC AUC 0.992 to 0.99999.
    assert r.metrics["fid_domain_real_floor"] < 2.0
    assert r.metrics["discriminator_roc_auc"] > 0.95
    assert r.report["headline_metric"] == "fid_domain"
    assert_report_renders(r.report_dir / "report.html", min_images=4)
    # Used and shipped: sampled from the run's folder, exported (the cluster draw rewritten for
    # LiteRT) with the same images from the same noise, loaded with plain Keras in a fresh process.
    samples = pipelines.load(r.report_dir).sample(64, seed=0)
    noise = np.random.default_rng(0).standard_normal((64, 100)).astype("float32")  # sample's noise for seed 0
    assert_exports_match(r.report_dir, tmp_path / "export", {"noise": noise}, {"images": samples})
    assert_loads_in_a_fresh_process(r.report_dir / "model.keras", r.model)
