"""DCGAN networks for 28x28 images (Radford et al. 2015) and the adversarial `keras.Model`.

`make_generator` maps standard-normal noise (plus integer labels when conditional) to
images in [-1, 1]; `make_discriminator` maps images (plus labels) to one real-vs-fake
logit. `DCGAN` holds both and overrides `train_step`, so `fit`, callbacks and
`tf.distribute` strategies work as for any Keras model.

This module gathers the public names; the code lives in one module per idea:

- `pipelines.nets.gan_networks`: the generator and discriminator builders, `MinibatchStdDev`;
- `pipelines.nets.gan_augment`: DiffAugment (`diff_augment`);
- `pipelines.nets.gan_model`: the `DCGAN` model and its train step, `make_optimizers`;
- `pipelines.nets.gan_sampling`: sampling a generator (`generate`).

Example:
    >>> g = make_generator(filters=(16, 8))
    >>> d = make_discriminator(filters=(8, 16))
    >>> g.output_shape, d.output_shape
    ((None, 28, 28, 1), (None, 1))
"""

from __future__ import annotations

from pipelines.nets.gan_augment import diff_augment
from pipelines.nets.gan_model import DCGAN, make_optimizers
from pipelines.nets.gan_networks import LATENT_DIM, MinibatchStdDev, make_discriminator, make_generator
from pipelines.nets.gan_sampling import generate

__all__ = [
    "LATENT_DIM",
    "make_generator",
    "make_discriminator",
    "MinibatchStdDev",
    "diff_augment",
    "DCGAN",
    "make_optimizers",
    "generate",
]
