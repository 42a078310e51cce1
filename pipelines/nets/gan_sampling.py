"""Sampling images from a trained (or saved and reloaded) DCGAN generator: `generate`."""

from __future__ import annotations

import keras
import numpy as np

from pipelines.nets.gan_networks import LATENT_DIM

__all__ = ["generate"]


def generate(
    generator: keras.Model,
    n: int,
    *,
    seed: int,
    labels: np.ndarray | None = None,
    latent_dim: int = LATENT_DIM,
    batch_size: int = 1000,
) -> np.ndarray:
    """Samples `n` images from a (saved) generator with seeded standard-normal noise.

    Args:
        generator: A model from `make_generator` (or its saved `.keras` file, loaded).
        n: Number of images.
        seed: Seed of the noise (NumPy's PCG64), so the same call gives the same images.
        labels: (n,) class indices for a conditional generator; required iff it is one.
        latent_dim: Noise dimension. Defaults to `100`.
        batch_size: Prediction batch size. Defaults to `1000`.

    Returns:
        float32 (n, 28, 28, 1) images in [-1, 1].

    Raises:
        ValueError: `labels` given to an unconditional generator, missing for a
            conditional one, or of the wrong length.

    Example:
        >>> from pipelines.nets.gan_networks import make_generator
        >>> generate(make_generator(filters=(8, 4)), 3, seed=0).shape
        (3, 28, 28, 1)
    """
    conditional = len(generator.inputs) == 2
    if conditional != (labels is not None):
        raise ValueError(
            f"expected labels {'for' if conditional else 'only for'} a conditional generator. "
            f"Received: labels={'None' if labels is None else 'an array'}"
        )
    noise = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")
    if labels is not None:
        labels = np.asarray(labels, "int32")
        if labels.shape != (n,):
            raise ValueError(f"expected labels of shape ({n},). Received: {labels.shape}")
        return generator.predict([noise, labels], batch_size=batch_size, verbose=0)
    return generator.predict(noise, batch_size=batch_size, verbose=0)
