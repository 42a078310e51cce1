"""Transfer learning for the image classifiers (`init_from`, `freeze`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from synthetic_images import bar_digits

import pipelines
from pipelines.calibration import with_temperature
from pipelines.errors import ConfigError
from pipelines.nets.autoencoder import make_denoising_autoencoder
from pipelines.nets.cnn import make_cnn
from pipelines.recipes.transfer import Transfer, set_backbone_trainable, transfer_model

QUICK = dict(dataset="digits", epochs=2, batch_size=64, verbose=0)


def _cnn(classes: int) -> keras.Model:
    return make_cnn((28, 28, 1), classes, stem_filters=4, filters=(8,), convs=(1,))


def test_a_classifier_of_as_many_classes_keeps_its_head_else_gets_a_new_one(tmp_path):
    source = _cnn(10)
    same = Transfer(source, tmp_path / "m.keras", 10, (28, 28, 1))
    model, head = transfer_model(same, 10)
    assert same.keeps_head and head == [model.layers[-1]]
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), source.predict(x, verbose=0), rtol=1e-5)  # a copy
    other = Transfer(source, tmp_path / "m.keras", 3, (28, 28, 1))
    model, head = transfer_model(other, 3)
    assert not other.keeps_head and model.output.shape[-1] == 3 and head[0].name == "logits_new"
    # The backbone's weights are the source's: the features before the head agree.
    features = keras.Model(model.inputs, model.layers[-1].input)
    original = keras.Model(source.inputs, source.layers[-1].input)
    np.testing.assert_allclose(features.predict(x, verbose=0), original.predict(x, verbose=0), rtol=1e-5)


def test_a_calibrated_source_gives_its_logits_before_the_temperature(tmp_path):
    transfer = Transfer(with_temperature(_cnn(10), 2.0), tmp_path / "m.keras", 10, (28, 28, 1))
    assert transfer.keeps_head and isinstance(transfer.source.layers[-1], keras.layers.Dense)


def test_the_autoencoders_encoder_becomes_a_backbone(tmp_path):
    dae = make_denoising_autoencoder(stem_filters=4, filters=(8, 8), latent_filters=4)
    transfer = Transfer(dae, tmp_path / "dae.keras", 10, (28, 28, 1))
    model, head = transfer_model(transfer, 10)
    assert transfer.kind == "encoder" and model.output.shape[-1] == 10
    set_backbone_trainable(model, head, False)
    assert [w.name for w in model.trainable_weights] == ["kernel", "bias"]  # the head's only


def test_a_source_of_other_images_or_kind_is_refused(tmp_path):
    small = make_cnn((14, 14, 1), 10, stem_filters=4, filters=(8,), convs=(1,))
    with pytest.raises(ConfigError, match=r"init_from takes images of shape \(14, 14, 1\)"):
        Transfer(small, tmp_path / "m.keras", 10, (28, 28, 1))
    inputs = keras.Input((28, 28, 1))
    with pytest.raises(ConfigError, match="an image classifier .* or a denoising autoencoder"):
        Transfer(keras.Model(inputs, keras.layers.Flatten()(inputs)), tmp_path / "m.keras", 10, (28, 28, 1))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"init_from": "no/such/run"}, "init_from must be a finished run's folder, its model.keras, or a kept model"),
        ({"freeze": "backbone"}, r"freeze='backbone' needs init_from"),
        ({"freeze": "all"}, "freeze must be one of 'none', 'backbone'"),
    ],
)
def test_bad_transfer_settings_are_refused_before_any_work(overrides, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        pipelines.run("mnist", out=str(tmp_path / "r"), **overrides)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_fine_tuning_a_run_with_a_frozen_backbone_then_unfrozen(tmp_path):
    pipelines.run("mnist", out=str(tmp_path / "source"), **QUICK)
    result = pipelines.run(
        "mnist", init_from=str(tmp_path / "source"), freeze="backbone", head_epochs=1, out=str(tmp_path / "t"), **QUICK
    )
    assert len(result.history["loss"]) == 1 + 2  # the head's epoch, then two of everything
    assert "Started from the layers of" in (tmp_path / "t" / "report.md").read_text()
    assert result.metrics["accuracy"] > 0.8  # the source alone is ~0.8 after two epochs on digits
    saved = keras.saving.load_model(tmp_path / "t" / "model.keras")
    assert all(layer.trainable for layer in saved.layers)  # saved unfrozen: ready to fine-tune again


@pytest.mark.slow
def test_a_classifier_starts_from_a_denoising_autoencoders_encoder(tmp_path):
    # The autoencoder learns to denoise bar images for two epochs (a saved model.keras is a valid source).
    data = bar_digits(600, 0, seed=0)
    clean = data.x_train[..., None].astype("float32") / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 0.3, clean.shape).astype("float32"), 0, 1)
    keras.utils.set_random_seed(0)
    dae = make_denoising_autoencoder(stem_filters=8, filters=(16, 16), latent_filters=8)
    dae.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    dae.fit(noisy, clean, batch_size=32, epochs=2, verbose=0)
    dae.save(tmp_path / "dae.keras")
    result = pipelines.run("mnist", init_from=str(tmp_path / "dae.keras"), out=str(tmp_path / "t"), **QUICK)
    assert "the encoder of the denoising autoencoder" in (tmp_path / "t" / "report.md").read_text()
    # Measured 0.84 from the pipeline's own autoencoder run (0.23 when the code was average-pooled:
    # where a stroke lies matters).
    assert result.metrics["accuracy"] > 0.7
