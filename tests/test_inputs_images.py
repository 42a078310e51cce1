"""Tests of the tf.data image step: scaling, batching, augmentation on train only."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.config import AugmentConfig
from pipelines.inputs.images import make_augmenter, make_image_dataset, to_float_images


def _digits(n=32):
    rng = np.random.default_rng(0)
    x = np.zeros((n, 28, 28), "uint8")
    x[:, 10:18, 12:16] = rng.integers(100, 256, size=(n, 8, 4))
    return x, np.arange(n) % 10


def test_to_float_images_scales_and_adds_a_channel():
    out = to_float_images(np.array([[[0, 255]]], "uint8"))
    assert out.shape == (1, 1, 2, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0, :, 0], [0.0, 1.0])


def test_evaluation_split_is_unshuffled_and_unaugmented():
    x, y = _digits()
    ds = make_image_dataset(x, y, batch_size=10, training=False, augment=AugmentConfig(rotation=0.4))
    xs, ys = zip(*[(a.numpy(), b.numpy()) for a, b in ds])
    np.testing.assert_array_equal(np.concatenate(xs), to_float_images(x))
    np.testing.assert_array_equal(np.concatenate(ys), y)
    assert [len(b) for b in ys] == [10, 10, 10, 2]


def test_training_split_is_shuffled_and_augmented_freshly_each_epoch():
    x, y = _digits()
    ds = make_image_dataset(x, y, batch_size=32, training=True, augment=AugmentConfig(), seed=3)
    ((x1, y1),) = [(a.numpy(), b.numpy()) for a, b in ds]
    ((x2, y2),) = [(a.numpy(), b.numpy()) for a, b in ds]
    assert sorted(y1) == sorted(y) and not np.array_equal(y1, y)  # shuffled, nothing lost
    assert not np.array_equal(y1, y2)  # reshuffled per epoch
    order1, order2 = np.argsort(y1, kind="stable"), np.argsort(y2, kind="stable")
    # Same labels, yet different pixels across epochs: the cache sits before augmentation.
    assert not np.allclose(x1[order1], x2[order2])
    assert 0.0 <= x1.min() and x1.max() <= 1.0 + 1e-6


def test_augmentation_off_leaves_pixels_untouched():
    x, y = _digits()
    ds = make_image_dataset(x, y, batch_size=32, training=True, augment=AugmentConfig(use_augmentation=False), seed=3)
    ((xb, yb),) = [(a.numpy(), b.numpy()) for a, b in ds]
    assert not np.array_equal(yb, y)  # shuffled ...
    np.testing.assert_array_equal(_sorted_rows(xb), _sorted_rows(to_float_images(x)))  # ... but unchanged


def test_same_seed_same_batches():
    x, y = _digits()
    runs = [[b.numpy() for _, b in make_image_dataset(x, y, batch_size=8, training=True, seed=5)] for _ in range(2)]
    np.testing.assert_array_equal(np.concatenate(runs[0]), np.concatenate(runs[1]))


def test_make_augmenter_uses_only_enabled_layers_and_no_flips():
    names = [type(layer).__name__ for layer in make_augmenter(AugmentConfig(zoom=0.0), seed=0).layers]
    assert names == ["RandomRotation", "RandomTranslation"]
    assert make_augmenter(AugmentConfig(use_augmentation=False), seed=0) is None


def test_unlabeled_dataset():
    x, _ = _digits(5)
    batches = list(make_image_dataset(x, None, batch_size=4, training=False))
    assert [tuple(b.shape) for b in batches] == [(4, 28, 28, 1), (1, 28, 28, 1)]


def _sorted_rows(images):
    flat = images.reshape(len(images), -1)
    return flat[np.lexsort(flat.T[::-1])]


def test_strength_scales_every_transform_within_its_range():
    augmenter = make_augmenter(AugmentConfig(rotation=0.1, translation=0.2, zoom=0.3, strength=2.0), seed=0)
    rotation, translation, zoom = augmenter.layers
    assert rotation.factor == pytest.approx((-0.2, 0.2))
    assert translation.height_factor == pytest.approx(0.4)
    assert zoom.height_factor == pytest.approx(0.6)
    capped = make_augmenter(AugmentConfig(rotation=0.3, translation=0.3, zoom=0.3, strength=4.0), seed=0)
    assert capped.layers[0].factor == pytest.approx((-0.5, 0.5))
    assert capped.layers[1].height_factor == pytest.approx(0.5)
    assert capped.layers[2].height_factor == pytest.approx(0.9)
    assert make_augmenter(AugmentConfig(strength=0.0), seed=0) is None
