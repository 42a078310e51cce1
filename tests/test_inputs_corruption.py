"""Tests of the denoising input step: corruption statistics, fresh yet seeded noise, shifts."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipelines.config import AugmentConfig
from pipelines.errors import ConfigError
from pipelines.inputs.corruption import Corruption, corrupt, corrupt_images, make_denoising_dataset

N_PIXELS = 28 * 28


def _epochs(ds, n=2):
    return [np.concatenate([noisy.numpy() for noisy, _ in ds]) for _ in range(n)]


def _digits(n=64):
    rng = np.random.default_rng(0)
    x = np.zeros((n, 28, 28), "uint8")
    x[:, 6:22, 10:18] = rng.integers(100, 256, size=(n, 16, 8))
    return x


def test_masking_sets_a_fraction_in_range_per_image_and_spreads_over_it():
    x = np.full((512, 28, 28), 255, "uint8")  # no zero pixel before masking
    ds = make_denoising_dataset(x, batch_size=128, training=True, corruption=Corruption("masking"), seed=1)
    (noisy,) = _epochs(ds, 1)
    fraction = (noisy == 0).reshape(len(x), -1).mean(axis=1)
    # Exactly round(f * 784) pixels per image, so only rounding separates it from [0.3, 0.5].
    assert fraction.min() >= 0.3 - 0.5 / N_PIXELS and fraction.max() <= 0.5 + 0.5 / N_PIXELS
    assert fraction.min() < 0.32 and fraction.max() > 0.48  # drawn across the range, not fixed
    assert set(np.unique(noisy)) == {0.0, 1.0}  # unmasked pixels keep their value


def test_masking_at_a_fixed_fraction_is_exact():
    images = tf.ones((3, 28, 28, 1))
    noisy = corrupt(images, Corruption("masking", mask_fraction=(0.25, 0.25)), tf.constant([4, 2], tf.int64))
    assert tf.reduce_sum(tf.cast(noisy == 0, tf.int32), axis=(1, 2, 3)).numpy().tolist() == [196] * 3


def test_gaussian_noise_has_the_factor_as_std_and_is_clipped():
    mid = np.full((256, 28, 28), 128, "uint8")
    noisy = corrupt_images(mid, Corruption(noise_factor=0.05), seed=3)
    delta = noisy - 128 / 255
    assert abs(delta.mean()) < 2e-3 and abs(delta.std() - 0.05) < 2e-3  # 10 sigma from the clip: no clipping
    bright = corrupt_images(np.full((16, 28, 28), 255, "uint8"), Corruption(noise_factor=0.4), seed=3)
    assert bright.max() == 1.0 and bright.min() >= 0.0 and (bright == 1.0).mean() > 0.45  # half the noise is clipped


def test_salt_and_pepper_replaces_the_given_share_half_each():
    mid = np.full((256, 28, 28), 128, "uint8")
    noisy = corrupt_images(mid, Corruption("salt_and_pepper", salt_pepper_amount=0.2), seed=5)
    assert abs((noisy == 0).mean() - 0.1) < 0.01 and abs((noisy == 1).mean() - 0.1) < 0.01
    np.testing.assert_allclose(noisy[(noisy > 0) & (noisy < 1)], 128 / 255)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_is_fresh_each_epoch_and_the_same_for_the_same_seed(kind):
    x = _digits()

    def build(seed):
        return make_denoising_dataset(x, batch_size=16, training=True, corruption=Corruption(kind), seed=seed)

    first, second = _epochs(build(7))
    again_first, again_second = _epochs(build(7))
    assert not np.array_equal(first, second)  # a new draw (and order) each epoch
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)  # the epoch sequence itself is reproducible
    assert not np.array_equal(first, _epochs(build(8), 1)[0])


def test_fresh_noise_is_not_only_a_reshuffle():
    x = np.full((32, 28, 28), 128, "uint8")  # identical images: only the noise can differ between epochs
    ds = make_denoising_dataset(x, batch_size=32, training=True, corruption=Corruption(), seed=0)
    first, second = _epochs(ds)
    assert not np.allclose(np.sort(first.ravel()), np.sort(second.ravel()))


def test_evaluation_split_is_ordered_fixed_and_targets_are_clean():
    x = _digits(40)
    ds = make_denoising_dataset(
        x, batch_size=16, training=False, corruption=Corruption(), seed=2, augment=AugmentConfig(translation=0.2)
    )
    passes = [[(a.numpy(), b.numpy()) for a, b in ds] for _ in range(2)]
    for (noisy1, _), (noisy2, _) in zip(*passes):
        np.testing.assert_array_equal(noisy1, noisy2)
    clean = np.concatenate([b for _, b in passes[0]])
    np.testing.assert_array_equal(clean, x[..., None] / np.float32(255))  # no shift off the training split
    np.testing.assert_array_equal(corrupt_images(x, Corruption(), seed=2)[:16], passes[0][0][0][:16])


def test_shifts_move_the_clean_target_before_it_is_corrupted():
    x = _digits(32)
    ds = make_denoising_dataset(
        x,
        batch_size=32,
        training=True,
        corruption=Corruption("masking"),
        seed=4,
        augment=AugmentConfig(rotation=0.0, translation=0.2, zoom=0.0),
    )
    ((noisy, clean),) = [(a.numpy(), b.numpy()) for a, b in ds]
    originals = {image.tobytes() for image in (x[..., None] / np.float32(255))}
    assert sum(image.tobytes() not in originals for image in clean) > 16  # most targets are shifted
    assert np.all((noisy == 0) | (noisy == clean))  # the noisy input is the shifted target, masked


def test_corrupt_images_is_seeded():
    x = _digits(10)
    a, b = corrupt_images(x, Corruption(), seed=1), corrupt_images(x, Corruption(), seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 28, 28, 1) and a.dtype == np.float32
    assert not np.array_equal(a, corrupt_images(x, Corruption(), seed=2))


def test_level_and_at_level():
    assert Corruption(noise_factor=0.3).level == pytest.approx(0.3)
    assert Corruption("masking").level == pytest.approx(0.4)
    assert Corruption("gaussian").at_level(0.7).noise_factor == 0.7
    assert Corruption("salt_and_pepper").at_level(0.1).salt_pepper_amount == 0.1
    assert Corruption("masking").at_level(0.6).mask_fraction == (0.6, 0.6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kind": "blur"}, "corruption must be one of gaussian, masking, salt_and_pepper"),
        ({"mask_fraction": (0.5, 0.3)}, r"mask_fraction must be \(low, high\)"),
        ({"noise_factor": -0.1}, "noise_factor must be >= 0"),
        ({"salt_pepper_amount": 1.5}, r"salt_pepper_amount must be in \[0, 1\]"),
    ],
)
def test_bad_corruption_is_a_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Corruption(**kwargs)
