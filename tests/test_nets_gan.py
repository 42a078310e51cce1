"""Tests of the DCGAN networks, DiffAugment and the adversarial train step."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.models import load_model
from pipelines.nets.gan import (
    DCGAN,
    MinibatchStdDev,
    diff_augment,
    generate,
    make_discriminator,
    make_generator,
    make_optimizers,
)


def _tiny_gan(conditional=False, **kwargs):
    classes = 10 if conditional else None
    return DCGAN(
        make_generator(num_classes=classes, filters=(16, 8), seed=0),
        make_discriminator(num_classes=classes, filters=(8, 16), seed=0),
        seed=0,
        **kwargs,
    )


def _compiled(gan):
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5)
    )
    return gan


def test_generator_maps_noise_to_28x28_images_in_minus_one_one():
    g = make_generator(filters=(16, 8), seed=0)
    images = generate(g, 5, seed=0)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0
    # tanh, not sigmoid: the pipeline scales real images to [-1, 1], so fakes must reach below 0.
    assert g.layers[-1].get_config()["activation"] == "tanh" and images.min() < 0 < images.max()
    # Radford et al.: BatchNorm everywhere but the output layer.
    assert g.layers[-2].name == "to_image" and "bn" not in g.layers[-3].name


def test_generation_is_seeded():
    g = make_generator(filters=(16, 8), seed=0)
    assert np.array_equal(generate(g, 4, seed=3), generate(g, 4, seed=3))
    assert not np.array_equal(generate(g, 4, seed=3), generate(g, 4, seed=4))


def test_conditional_generator_and_discriminator_take_labels():
    g = make_generator(num_classes=10, filters=(16, 8), seed=0)
    d = make_discriminator(num_classes=10, filters=(8, 16), seed=0)
    images = generate(g, 6, seed=0, labels=np.arange(6))
    assert images.shape == (6, 28, 28, 1)
    assert d.predict([images, np.arange(6)], verbose=0).shape == (6, 1)
    # The label changes the image drawn from the same noise.
    assert not np.allclose(
        generate(g, 2, seed=0, labels=np.array([0, 0])), generate(g, 2, seed=0, labels=np.array([1, 1]))
    )
    with pytest.raises(ValueError, match="expected labels for a conditional generator"):
        generate(g, 2, seed=0)
    with pytest.raises(ValueError, match="expected labels only for a conditional generator"):
        generate(make_generator(filters=(16, 8)), 2, seed=0, labels=np.zeros(2))


def test_discriminator_has_no_batchnorm_at_the_input_and_no_pooling():
    d = make_discriminator(filters=(8, 16, 32))
    names = [layer.name for layer in d.layers]
    assert "down0_bn" not in names and "down1_bn" in names and "down2_bn" in names
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in d.layers)
    assert d.output_shape == (None, 1)


def test_minibatch_std_channel_is_the_mean_spread_of_the_batch(tmp_path):
    x = np.random.default_rng(0).normal(size=(16, 7, 7, 3)).astype("float32")
    y = np.asarray(MinibatchStdDev()(x))
    np.testing.assert_array_equal(y[..., :3], x)
    np.testing.assert_allclose(y[..., 3], np.mean(np.std(x, axis=0)), rtol=1e-5)
    # A collapsed batch (one image repeated) has no spread.
    assert np.allclose(np.asarray(MinibatchStdDev()(np.repeat(x[:1], 4, axis=0)))[..., 3], 0, atol=1e-3)

    d = make_discriminator(num_classes=10, filters=(8, 16), minibatch_std=True, seed=0)
    assert d.get_layer("features").output.shape == (None, 7 * 7 * 17)
    d.save(tmp_path / "d.keras")
    images, labels = np.tanh(x[:, :, :, :1].repeat(4, 1).repeat(4, 2)), np.arange(16) % 10
    np.testing.assert_allclose(
        load_model(tmp_path / "d.keras").predict([images, labels], verbose=0),
        d.predict([images, labels], verbose=0),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: make_generator(filters=(16,)), "expected 2 generator filters"),
        (lambda: make_generator(latent_dim=0), "latent_dim=0"),
        (lambda: make_discriminator(filters=()), "at least one discriminator stage"),
        (lambda: make_discriminator(dropout=1.0), r"dropout in \[0, 1\)"),
        (
            lambda: DCGAN(make_generator(num_classes=10, filters=(4, 4)), make_discriminator(filters=(4,))),
            "conditional discriminator exactly when",
        ),
    ],
)
def test_bad_network_arguments_are_rejected(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_diff_augment_keeps_shape_range_and_gradients():
    x = tf.Variable(np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        y = diff_augment(x, keras.random.SeedGenerator(0))
        total = tf.reduce_sum(y)
    assert y.shape == (4, 28, 28, 1) and float(tf.reduce_min(y)) >= -1 and float(tf.reduce_max(y)) <= 1
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, x)))) > 0
    # Cutout of half the side sets at least a 7x7 corner (clipped 14x14 square) to -1 per image.
    cut = diff_augment(tf.ones((8, 28, 28, 1)), keras.random.SeedGenerator(1), translation=0.0)
    assert ((cut.numpy() == -1).sum(axis=(1, 2, 3)) >= 49).all()


@pytest.mark.parametrize("conditional,use_diff_augment", [(False, False), (True, True)])
def test_train_step_updates_both_networks_and_logs_the_losses(conditional, use_diff_augment):
    gan = _compiled(_tiny_gan(conditional, use_diff_augment=use_diff_augment))
    g_before = [w.numpy().copy() for w in gan.generator.trainable_weights]
    d_before = [w.numpy().copy() for w in gan.discriminator.trainable_weights]
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    history = gan.fit(x, np.arange(32) % 10, batch_size=16, epochs=2, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "d_real", "d_fake"} and len(history["d_loss"]) == 2
    assert all(np.isfinite(v) for values in history.values() for v in values)
    # Before any step D outputs ~0.5 on both, so d_loss starts near 2 ln 2.
    assert 0.5 < history["d_loss"][0] < 2.5
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, gan.generator.trainable_weights))
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(d_before, gan.discriminator.trainable_weights))


@pytest.mark.parametrize("conditional", [False, True])
def test_average_generator_puts_the_weight_average_in_place(conditional):
    gan = _tiny_gan(conditional)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3, use_ema=True, ema_momentum=0.9)
    )
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    gan.fit(x, np.arange(64) % 10, batch_size=16, epochs=2, verbose=0)
    last = [w.numpy().copy() for w in gan.generator.trainable_weights]
    average = [v.numpy().copy() for v in gan.g_optimizer._model_variables_moving_average]
    moving_mean = gan.generator.get_layer("project_bn").moving_mean.numpy().copy()

    assert gan.average_generator(batches=3, batch_size=8)

    for w, a in zip(gan.generator.trainable_weights, average):
        np.testing.assert_allclose(w.numpy(), a, rtol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(average, last))  # the average is not the last step
    assert not np.allclose(gan.generator.get_layer("project_bn").moving_mean.numpy(), moving_mean)
    labels = np.arange(4) if conditional else None
    assert np.isfinite(generate(gan.generator, 4, seed=0, labels=labels)).all()


def test_dcgan_serializes_by_its_registered_name_with_both_networks():
    gan = _tiny_gan(use_diff_augment=True)
    config = keras.saving.serialize_keras_object(gan)
    assert config["registered_name"] == "pipelines>DCGAN"
    restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert isinstance(restored, DCGAN) and restored.use_diff_augment and restored.seed == 0
    assert restored.generator.count_params() == gan.generator.count_params()


def test_make_optimizers_keeps_an_average_for_the_generator_only():
    d_opt, g_opt = make_optimizers(1e-3, 0.5, generator_ema=0.9)
    assert not d_opt.use_ema and g_opt.use_ema and float(g_opt.ema_momentum) == pytest.approx(0.9)
    assert float(d_opt.learning_rate) == pytest.approx(1e-3) and float(g_opt.beta_1) == 0.5
    assert not make_optimizers()[1].use_ema
    with pytest.raises(ValueError, match="generator_ema"):
        make_optimizers(generator_ema=1.0)


def test_average_generator_without_an_average_changes_nothing():
    gan = _compiled(_tiny_gan())
    before = [w.numpy().copy() for w in gan.generator.weights]
    assert not gan.average_generator()
    for w, b in zip(gan.generator.weights, before):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("conditional", [False, True])
def test_saved_generator_reloads_with_safe_mode_and_generates_the_same_images(tmp_path, conditional):
    g = make_generator(num_classes=10 if conditional else None, filters=(16, 8), seed=0)
    g.save(tmp_path / "g.keras")
    reloaded = load_model(tmp_path / "g.keras")  # safe_mode=True
    labels = np.arange(4) if conditional else None
    np.testing.assert_allclose(
        generate(reloaded, 4, seed=1, labels=labels), generate(g, 4, seed=1, labels=labels), atol=1e-6
    )
