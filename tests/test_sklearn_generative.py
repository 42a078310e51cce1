"""Tests of pipelines.sklearn.DCGAN: fit, sample, conditional labels, pickling, clone, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from pipelines.errors import ConfigError, DataValidationError
from pipelines.sklearn import DCGAN

TINY = dict(generator_filters=(16, 8), discriminator_filters=(8, 16), batch_size=32, epochs=1, random_state=0)


def _bars(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of uint8 images: a vertical or a horizontal bar."""
    y = np.arange(n) % 2
    X = np.zeros((n, 28, 28), "uint8")
    X[y == 0, 4:24, 12:16] = 255
    X[y == 1, 12:16, 4:24] = 255
    return X, y


def test_fit_then_sample_gives_seeded_images_in_the_input_layout():
    X, _ = _bars()
    gan = DCGAN(**TINY).fit(X.reshape(len(X), -1))  # flat rows are accepted too
    images = gan.sample(5, random_state=3)
    assert images.shape == (5, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(gan.sample(5, random_state=3), images)
    assert not np.array_equal(gan.sample(5, random_state=4), images)
    assert gan.n_iter_ == 1 and set(gan.history_) >= {"d_loss", "g_loss"}


def test_warm_start_trains_the_same_networks_further():
    X, _ = _bars()
    gan = DCGAN(**{**TINY, "warm_start": True}).fit(X)
    generator = gan.model_
    before = [w.copy() for w in generator.get_weights()]
    gan.fit(X)
    assert gan.model_ is generator and gan.n_iter_ == 2
    assert any(not np.array_equal(a, b) for a, b in zip(before, generator.get_weights()))


def test_minibatch_std_and_generator_ema_reach_the_networks():
    X, _ = _bars()
    first, again = (DCGAN(**TINY, minibatch_std=True).fit(X) for _ in range(2))
    gan = DCGAN(**TINY, minibatch_std=True, generator_ema=0.5).fit(X)
    assert any(layer.name == "minibatch_std" for layer in gan.discriminator_.layers)
    # Seeded fits repeat exactly on CPU, so the difference is the weight average's.
    np.testing.assert_array_equal(again.sample(4, random_state=0), first.sample(4, random_state=0))
    assert not np.array_equal(gan.sample(4, random_state=0), first.sample(4, random_state=0))
    restored = pickle.loads(pickle.dumps(gan))
    np.testing.assert_array_equal(restored.sample(4, random_state=0), gan.sample(4, random_state=0))


def test_conditional_gan_samples_requested_labels_and_checks_them():
    X, y = _bars()
    labels = np.where(y == 0, "vertical", "horizontal")
    gan = DCGAN(conditional=True, **TINY).fit(X, labels)
    assert list(gan.classes_) == ["horizontal", "vertical"]
    assert gan.sample(3, labels=["vertical", "horizontal", "vertical"], random_state=0).shape == (3, 28, 28)
    with pytest.raises(DataValidationError, match="not among classes_"):
        gan.sample(1, labels=["diagonal"])
    with pytest.raises(DataValidationError, match="pass labels"):
        gan.sample(2)
    with pytest.raises(DataValidationError, match="needs the labels"):
        DCGAN(conditional=True, **TINY).fit(X)


def test_pickle_round_trip_gives_identical_samples_and_clone_keeps_parameters():
    X, _ = _bars()
    gan = DCGAN(**TINY, fit__validation_freq=1).fit(X)
    restored = pickle.loads(pickle.dumps(gan))
    np.testing.assert_array_equal(restored.sample(4, random_state=7), gan.sample(4, random_state=7))
    assert restored.discriminator_.count_params() == gan.discriminator_.count_params()
    assert clone(gan).get_params() == gan.get_params()


@pytest.mark.parametrize(
    "X, kwargs, error, match",
    [
        (np.zeros((64, 14, 14), "uint8"), {}, DataValidationError, r"shape \(28, 28, 1\)"),
        (np.zeros((16, 28, 28), "uint8"), {}, DataValidationError, "at least batch_size=32"),
        (np.full((64, 28, 28), 300, "int32"), {}, DataValidationError, "0..255"),
        (np.zeros((64, 28, 28), "uint8"), {"optimizer__learning_rate": 0.1}, ConfigError, "only fit__"),
        (np.zeros((64, 28, 28), "uint8"), {"learning_rate": -1.0}, ConfigError, "learning_rate"),
        (np.zeros((64, 28, 28), "uint8"), {"generator_ema": 1.0}, ConfigError, "generator_ema"),
    ],
)
def test_bad_input_is_refused_before_training(X, kwargs, error, match):
    with pytest.raises(error, match=match):
        DCGAN(**{**TINY, **kwargs}).fit(X)
