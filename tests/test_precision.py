"""Precision policies: every net computes in the mixed dtype but outputs float32, losses are
float32, mixed_float16 scales the loss (also in the DCGAN's own train step), and training
under mixed_bfloat16 works on this CPU, for small nets and for whole pipelines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
from synthetic_images import bar_digits

import pipelines
from pipelines import devices
from pipelines.nets.autoencoder import make_denoising_autoencoder
from pipelines.nets.cnn import make_cnn
from pipelines.nets.gan import DCGAN, make_discriminator, make_generator
from pipelines.nets.mlp import extract_member, make_fold_mlp
from pipelines.nets.rnn import make_text_rnn
from pipelines.nets.vit import make_vit

RNG = np.random.default_rng(0)
IMAGES = RNG.random((4, 28, 28, 1)).astype("float32")
TABLE_X = RNG.uniform(0, 300, (20, 3))
TABLE_Y = 3 + TABLE_X @ np.array([0.05, 0.1, 0.0])


def _fold_mlp() -> keras.Model:
    return make_fold_mlp(TABLE_X, TABLE_Y, np.ones((20, 2), bool), widths=(8,))


# Each net of pipelines/nets/, small, with an input batch.
NETS: dict[str, Callable[[], tuple[keras.Model, Any]]] = {
    "cnn": lambda: (make_cnn((28, 28, 1), 10, stem_filters=4, filters=(8,)), IMAGES),
    "vit": lambda: (make_vit((28, 28, 1), 10, patch_size=7, dim=16, depth=1, heads=2, mlp_dim=16), IMAGES),
    "vit_stem": lambda: (
        make_vit((28, 28, 1), 10, patch_size=1, stem_channels=(4, 8, 8), dim=16, depth=1, heads=2, mlp_dim=16),
        IMAGES,
    ),
    "rnn": lambda: (make_text_rnn(30, embed_dim=8, units=(4,)), np.array([[3, 4, 0, 0], [5, 0, 0, 0]], "int32")),
    "autoencoder": lambda: (make_denoising_autoencoder(stem_filters=4, filters=(8, 8), latent_filters=4), IMAGES),
    "generator": lambda: (make_generator(filters=(8, 4)), RNG.normal(size=(4, 100)).astype("float32")),
    "conditional_discriminator": lambda: (
        make_discriminator(filters=(4,), num_classes=10),
        [IMAGES, np.arange(4, dtype="int32")],
    ),
    "fold_mlp": lambda: (_fold_mlp(), TABLE_X.astype("float32")),
    "mlp_member": lambda: (extract_member(_fold_mlp(), 0), TABLE_X.astype("float32")),
}


@pytest.fixture
def float16_policy() -> Iterator[None]:
    """mixed_float16 without the GPU check of `devices.precision_policy` (float16 is emulated on CPU)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _dtype(tensor: Any) -> str:
    return keras.backend.standardize_dtype(tensor.dtype)


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return list(model._flatten_layers(include_self=False, recursive=True))


@pytest.mark.parametrize("name", list(NETS))
def test_nets_compute_in_bfloat16_but_output_float32(name):
    with devices.precision_policy("mixed_bfloat16"):
        model, inputs = NETS[name]()
    outputs = model(inputs, training=False)
    assert _dtype(outputs) == "float32"
    # The policy reached the net: some layer computes in bfloat16, and variables stay float32.
    assert "bfloat16" in {layer.compute_dtype for layer in _all_layers(model)}
    assert {keras.backend.standardize_dtype(w.dtype) for w in model.weights} <= {"float32", "int64"}


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_small_cnn_learns_under_each_policy_with_float32_logits_and_loss(precision):
    data = bar_digits(320, 40, seed=0)
    x, y = data.x_train[..., None] / 255.0, data.y_train
    keras.utils.set_random_seed(0)
    with devices.precision_policy(precision):
        model = make_cnn((28, 28, 1), 10, stem_filters=8, filters=(8,), head_dropout=0.0)
        model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, batch_size=32, epochs=3, verbose=0).history["loss"]
        logits = model(x[:8], training=False)
        loss = model.loss(y[:8], logits)
    assert history[-1] < 0.5 * history[0], history
    assert _dtype(logits) == "float32" and _dtype(loss) == "float32"
    expected = "bfloat16" if precision == "mixed_bfloat16" else "float32"
    assert model.get_layer("stem").compute_dtype == expected


def test_mixed_float16_wraps_the_optimizer_in_loss_scaling(float16_policy):
    model = make_cnn((28, 28, 1), 10, stem_filters=4, filters=(8,))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def _dcgan_step_delta(precision: str) -> tuple[np.ndarray, np.ndarray, DCGAN]:
    """The change of both networks' first kernels after one SGD step of the DCGAN at a fixed seed."""
    keras.utils.set_random_seed(0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        gan = DCGAN(make_generator(filters=(8, 4), seed=0), make_discriminator(filters=(4,), seed=0), seed=0)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
    finally:
        keras.config.set_dtype_policy(previous)
    d_before, g_before = gan.discriminator.weights[0].numpy(), gan.generator.weights[0].numpy()
    real = bar_digits(8, 10, seed=0).x_train[..., None] / 127.5 - 1.0
    gan.fit(real.astype("float32"), np.zeros(8, "int32"), batch_size=8, epochs=1, verbose=0, shuffle=False)
    return gan.discriminator.weights[0].numpy() - d_before, gan.generator.weights[0].numpy() - g_before, gan


def test_dcgan_scales_its_losses_under_mixed_float16():
    # Regression: the DCGAN's own train_step took gradients of the unscaled losses, so under
    # mixed_float16 small gradients underflowed. With SGD a missing (or doubled) scale would
    # make the step 32768 times smaller (larger) than float32's; a scaled one matches it.
    d32, g32, _ = _dcgan_step_delta("float32")
    d16, g16, gan = _dcgan_step_delta("mixed_float16")
    assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    for delta16, delta32 in ((d16, d32), (g16, g32)):
        assert np.linalg.norm(delta32) > 0
        assert np.linalg.norm(delta16) / np.linalg.norm(delta32) == pytest.approx(1.0, abs=0.05)


@pytest.mark.slow
def test_mnist_pipeline_runs_under_mixed_bfloat16(tmp_path):
    result = pipelines.run(
        "mnist",
        dataset="digits",
        precision="mixed_bfloat16",
        epochs=2,
        batch_size=64,
        out=str(tmp_path / "run"),
        verbose=0,
    )
    assert result.report["environment"]["precision_policy"] == "mixed_bfloat16"
    assert result.metrics["accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert result.model.get_layer("stem").compute_dtype == "bfloat16"
    assert _dtype(result.model(np.zeros((1, 28, 28, 1), "float32"))) == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the run restored the policy


@pytest.mark.slow
def test_advertising_pipeline_runs_under_mixed_bfloat16(tmp_path):
    rng = np.random.default_rng(0)
    tv, radio = rng.uniform(0, 300, 60), rng.uniform(0, 50, 60)
    frame = pd.DataFrame({"tv": tv, "radio": radio, "units": 3 + 0.04 * tv + 0.2 * radio + rng.normal(0, 0.3, 60)})
    from pipelines.tasks.advertising import run_dataframe

    result = run_dataframe(
        frame,
        features=["tv", "radio"],
        target="units",
        precision="mixed_bfloat16",
        folds=3,
        epochs=150,
        linear_epochs=50,
        learning_rate=1e-2,
        widths=(8,),
        out=str(tmp_path / "run"),
        verbose=0,
    )
    assert result.report["environment"]["precision_policy"] == "mixed_bfloat16"
    # Raw budgets in, raw units out, both float32: bfloat16 would round a sales figure near 20 to 0.125.
    assert result.metrics["cv_r2_mean"] > 0.9
    assert result.model.get_layer("hidden_0").compute_dtype == "bfloat16"
    assert _dtype(result.model(frame[["tv", "radio"]].to_numpy("float32"))) == "float32"
