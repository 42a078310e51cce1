"""Tests of the `vit` pipeline: it shares the mnist data step and report, adds attention maps,
wires label smoothing and AdamW, and its model reloads safely."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from browser import assert_report_renders
from serving import assert_exports_match, assert_loads_in_a_fresh_process

import pipelines
from pipelines.errors import ConfigError
from pipelines.inputs.mnist import load_mnist_family
from pipelines.models import load_model

# The plain ViT. A small stem net scored 0.36 after these 2 epochs on 3,000 MNIST images
# (measured); likely its batch-norm moving statistics (momentum 0.99) are not settled after
# so few steps. The stem itself is tested in test_nets_vit.py. No XLA: compiling costs
# more than these few steps.
TINY = dict(
    epochs=2,
    depth=2,
    dim=32,
    heads=2,
    mlp_dim=64,
    stem_channels=(),
    patch_size=7,
    batch_size=64,
    jit_compile=False,
    verbose=0,
)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(patch_size=5), "expected a patch_size that divides the stem's 4x4 output"),
        (dict(dim=30, heads=4), "expected dim divisible by heads"),
        (dict(label_smoothing=1.0), "label_smoothing must be < 1"),
    ],
)
def test_bad_net_settings_are_refused_before_any_work(overrides, match, tmp_path):
    with pytest.raises(ConfigError, match=match):
        pipelines.run("vit", out=str(tmp_path / "run"), **overrides)
    assert not (tmp_path / "run").exists()


def test_vit_on_digits_reports_like_mnist_plus_attention(tmp_path):
    result = pipelines.run("vit", dataset="digits", out=str(tmp_path / "run"), learning_rate=3e-3, **TINY)
    mnist_names = {"accuracy", "f1_macro", "roc_auc_ovr_macro", "log_loss", "ece"}
    assert mnist_names <= set(result.metrics)
    assert result.metrics["accuracy"] > 0.3  # 10 classes: chance is 0.1
    report = json.loads((result.report_dir / "report.json").read_text())
    assert "attention_rollout.png" in report["figures"]
    assert_report_renders(result.report_dir / "report.html", min_images=len(report["figures"]))
    assert isinstance(result.model.optimizer, keras.optimizers.AdamW)
    # Label smoothing 0.1 is on by default: the loss is categorical on one-hot labels.
    assert isinstance(result.model.loss, keras.losses.CategoricalCrossentropy)
    assert result.model.loss.label_smoothing == pytest.approx(0.1)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype("float32")
    reloaded = load_model(result.report_dir / "model.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), result.model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


@pytest.mark.realdata
@pytest.mark.slow
def test_vit_short_run_on_real_mnist(real_data_dir, tmp_path):
    result = pipelines.run(
        "vit",
        data_dir=str(real_data_dir),
        out=str(tmp_path / "run"),
        max_train_samples=12000,
        learning_rate=3e-3,
        warmup_epochs=0.2,
        **TINY,
    )
    assert result.report["dataset"]["splits"]["test"] == 10000
    # Measured over seeds 1337, 1 and 2: accuracy 0.844, 0.837, 0.826; ROC AUC 0.984, 0.984, 0.981.
    # (On 3,000 images the same two epochs scattered from 0.44 to 0.58: too few steps to be a bar.)
    assert result.metrics["accuracy"] > 0.78
    assert result.metrics["roc_auc_ovr_macro"] > 0.97
    # Used and shipped: the predictor on real test digits, each export format against it (ONNX
    # through the GELU rewrite), and the README's plain-Keras load in a fresh process.
    images = load_mnist_family("mnist", real_data_dir).x_test[:128]
    proba = pipelines.load(result.report_dir).predict_proba(images)
    assert_exports_match(
        result.report_dir, tmp_path / "export", {"images": images[..., None]}, {"probabilities": proba}
    )
    assert_loads_in_a_fresh_process(result.report_dir / "model.keras", result.model)
