"""Tests of pipelines.nets.autoencoder: shapes, sub-models, the bottleneck, helpers, PSNR loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.errors import DataValidationError
from pipelines.models import load_model
from pipelines.nets.autoencoder import PSNRLoss, denoise, encode, make_denoising_autoencoder, to_model_input


def _small(**kwargs):
    return make_denoising_autoencoder(stem_filters=4, filters=(8, 8), latent_filters=3, **kwargs)


def test_shapes_and_sub_models():
    model = _small()
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert isinstance(encoder, keras.Model) and isinstance(decoder, keras.Model)
    assert model.output_shape == (None, 28, 28, 1)
    assert encoder.output_shape == (None, 7, 7, 3) and decoder.input_shape == (None, 7, 7, 3)
    assert [layer.name for layer in model.layers] == ["noisy", "encoder", "decoder"]
    assert decoder.layers[-1].get_config()["activation"] == "sigmoid"
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in decoder.layers)


def test_decoder_sees_only_the_latent_map():
    # No skip connections: the decoder has one input, and the model is encoder then decoder.
    model = _small()
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    latent = model.get_layer("encoder")(x)
    np.testing.assert_allclose(model.get_layer("decoder")(latent), model(x), atol=1e-6)
    assert len(model.get_layer("decoder").inputs) == 1


def test_one_stage_and_extra_convs():
    model = make_denoising_autoencoder(stem_filters=4, filters=(8,), latent_filters=2, convs_per_stage=2)
    assert model.get_layer("encoder").output_shape == (None, 14, 14, 2)
    assert "enc0_1" in [layer.name for layer in model.get_layer("encoder").layers]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"filters": ()}, "at least one positive stage width"),
        ({"latent_filters": 0}, "positive stem_filters, latent_filters"),
        ({"filters": (8, 8, 8)}, "divisible by 2\\*\\*len\\(filters\\) = 8"),
    ],
)
def test_bad_architecture(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_denoising_autoencoder(**kwargs)


def test_denoise_and_encode_accept_uint8_and_float_with_or_without_channel():
    model = _small()
    x = np.random.default_rng(1).integers(0, 256, (5, 28, 28)).astype("uint8")
    as_float = x[..., None].astype("float32") / 255
    out = denoise(model, x)
    assert out.shape == (5, 28, 28, 1) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out, denoise(model, as_float), atol=1e-6)
    np.testing.assert_allclose(out, denoise(model, as_float[..., 0]), atol=1e-6)
    assert encode(model, x).shape == (5, 7, 7, 3)
    np.testing.assert_allclose(encode(model, x), encode(model, as_float), atol=1e-6)


@pytest.mark.parametrize(
    "images,match",
    [
        (np.full((2, 28, 28), 2.0), r"expected float images in \[0, 1\]"),
        (np.zeros((2, 28, 28, 3), "uint8"), "grayscale images of shape"),
        (np.zeros((28, 28), "uint8"), "grayscale images of shape"),
        (np.zeros((2, 28, 28), "int64"), "expected uint8"),
    ],
)
def test_bad_images_are_rejected(images, match):
    with pytest.raises(DataValidationError, match=match):
        to_model_input(images)


def test_psnr_loss_is_minus_the_mean_tf_image_psnr():
    rng = np.random.default_rng(2)
    y, p = rng.random((6, 28, 28, 1), dtype="float32"), rng.random((6, 28, 28, 1), dtype="float32")
    expected = -tf.reduce_mean(tf.image.psnr(y, p, max_val=1.0))
    np.testing.assert_allclose(PSNRLoss()(y, p), expected, rtol=1e-5)
    assert PSNRLoss.from_config(PSNRLoss(epsilon=1e-6).get_config()).epsilon == 1e-6
    with pytest.raises(ValueError, match="positive epsilon"):
        PSNRLoss(epsilon=0)


def test_training_on_the_psnr_loss_lowers_it():
    keras.utils.set_random_seed(0)
    x = np.zeros((64, 28, 28, 1), "float32")
    x[:, 8:20, 12:16] = 1.0
    noisy = np.clip(x + 0.3 * np.random.default_rng(0).normal(size=x.shape), 0, 1).astype("float32")
    model = _small()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=PSNRLoss())
    history = model.fit(noisy, x, epochs=2, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0]


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")  # saved before any step
def test_save_and_reload_with_safe_mode(tmp_path):
    model = _small()
    model.compile(optimizer="adam", loss=PSNRLoss())  # registered: loads once the module is imported
    x = np.random.default_rng(3).random((4, 28, 28, 1), dtype="float32")
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(denoise(model, x), denoise(again, x))
    assert again.get_layer("encoder").output_shape == (None, 7, 7, 3)
