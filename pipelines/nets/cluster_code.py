"""Cluster codes for a GAN conditioned on unsupervised clusters of its training images.

An unconditional GAN tends to draw some modes too often and others too rarely (on MNIST,
9s and 7s in place of 4s and 1s), and the adversarial loss corrects those frequencies only
slowly. Conditioning on clusters found without labels (k-means of the pixels, see
`pipelines.inputs.pixel_clusters`) fixes the frequencies by construction, in the spirit of the
self-conditioned GAN of Liu et al. (2020): the generator draws its cluster from the
noise at the clusters' training frequencies (`ClusterCode`), and the projection
discriminator judges each image within its cluster. Both saved networks keep the
unconditional interfaces: noise -> image, and image -> logit (`NearestCluster` reads an
image's cluster off its pixels).

Example:
    >>> import numpy as np
    >>> code = ClusterCode([0.2, 0.8])
    >>> z = np.random.default_rng(0).standard_normal((4000, 3)).astype("float32")
    >>> round(float(np.mean(keras.ops.convert_to_numpy(code(z)) == 1)), 1)
    0.8
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers, ops

__all__ = ["ClusterCode", "NearestCluster", "discriminator_on_images"]


@keras.saving.register_keras_serializable(package="pipelines", name="ClusterCode")
class ClusterCode(layers.Layer):
    """The cluster a noise vector draws: the inverse CDF of the cluster frequencies at Phi(noise[:, 0]).

    For standard-normal noise Phi(z_0) is uniform on (0, 1), so the codes follow the
    frequencies exactly. The cumulative frequencies are a non-trainable weight, saved with
    the model. The layer computes in float32 under any precision policy: 16-bit shares would
    blur clusters of 1/200.

    Args:
        frequencies: (k,) cluster shares summing to 1. They are also the layer's config, so
            a rebuild from the config alone draws the same way.
    """

    def __init__(self, frequencies: Sequence[float] | np.ndarray, **kwargs: Any) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        shares = np.asarray(frequencies, "float64")
        if shares.ndim != 1 or len(shares) < 2 or shares.min() < 0 or not np.isclose(shares.sum(), 1.0):
            raise ValueError(f"expected 2 or more non-negative frequencies summing to 1. Received: {shares}")
        self.num_clusters = len(shares)
        self._frequencies = shares
        self._thresholds: np.ndarray | None = None

    def build(self, input_shape: tuple) -> None:
        initial = keras.initializers.Constant(np.cumsum(self._frequencies).astype("float32"))
        self.cdf = self.add_weight(shape=(self.num_clusters,), initializer=initial, trainable=False, name="cdf")

    def freeze_thresholds(self) -> None:
        """Draws from now on by comparing noise[:, 0] with constant thresholds, without erf.

        Phi is increasing, so `noise[:, 0] >= Phi^-1(c)` is `Phi(noise[:, 0]) >= c`: the same
        codes (up to float round-off at a boundary). Export to LiteRT uses it: erf is not
        among LiteRT's built-in operators.
        """
        from scipy.special import ndtri

        self._thresholds = ndtri(ops.convert_to_numpy(self.cdf).astype("float64")[:-1]).astype("float32")

    def call(self, noise: Any) -> Any:
        if self._thresholds is not None:
            above = ops.cast(noise[:, 0], "float32")[:, None] >= self._thresholds[None, :]
            return ops.sum(ops.cast(above, "int32"), axis=1)
        u = 0.5 * (1.0 + ops.erf(ops.cast(noise[:, 0], "float32") / math.sqrt(2.0)))
        # The number of cumulative shares (the last, 1, excluded) at or below u.
        return ops.sum(ops.cast(u[:, None] >= self.cdf[None, :-1], "int32"), axis=1)

    def compute_output_spec(self, noise: Any) -> keras.KerasTensor:
        return keras.KerasTensor((noise.shape[0],), dtype="int32")

    def get_config(self) -> dict[str, Any]:
        # From the weight once built: it is what the layer draws with (and what a file restored).
        cdf = np.cumsum(self._frequencies) if not self.built else keras.ops.convert_to_numpy(self.cdf).astype("float64")
        return {**super().get_config(), "frequencies": np.diff(cdf, prepend=0.0).round(9).tolist()}


@keras.saving.register_keras_serializable(package="pipelines", name="NearestCluster")
class NearestCluster(layers.Layer):
    """The cluster of each image in [-1, 1]: its nearest centroid after the clustering's PCA projection.

    Args:
        mean: (pixels,) pixel mean of the [0, 1] training images.
        components: (c, pixels) principal axes.
        centroids: (k, c) cluster centres in the projected space.
        All three are `None` when loading; then `sizes` = (pixels, c, k). They are weights,
        not config: a model rebuilt from its config alone needs its weights loaded. The
        layer computes in float32 under any precision policy.
    """

    def __init__(
        self,
        mean: np.ndarray | None = None,
        components: np.ndarray | None = None,
        centroids: np.ndarray | None = None,
        *,
        sizes: Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self._values = None if mean is None else [np.asarray(v, "float32") for v in (mean, components, centroids)]
        if self._values is not None:
            sizes = (len(self._values[0]), len(self._values[1]), len(self._values[2]))
        if sizes is None:
            raise ValueError("expected mean, components and centroids, or sizes")
        self.sizes = tuple(int(v) for v in sizes)

    def build(self, input_shape: tuple) -> None:
        pixels, c, k = self.sizes
        names, shapes = ("mean", "components", "centroids"), ((pixels,), (c, pixels), (k, c))
        for i, (name, shape) in enumerate(zip(names, shapes)):
            initial = "zeros" if self._values is None else keras.initializers.Constant(self._values[i])
            setattr(self, name, self.add_weight(shape=shape, initializer=initial, trainable=False, name=name))

    def call(self, images: Any) -> Any:
        flat = ops.reshape((ops.cast(images, "float32") + 1.0) / 2.0, (-1, self.sizes[0]))
        z = ops.matmul(flat - self.mean, ops.transpose(self.components))
        # |z - c|^2 up to the |z|^2 term, which does not change the argmin.
        distances = ops.sum(self.centroids**2, axis=1)[None, :] - 2.0 * ops.matmul(z, ops.transpose(self.centroids))
        return ops.cast(ops.argmin(distances, axis=1), "int32")

    def compute_output_spec(self, images: Any) -> keras.KerasTensor:
        return keras.KerasTensor((images.shape[0],), dtype="int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "sizes": list(self.sizes)}


def discriminator_on_images(
    discriminator: keras.Model, nearest: NearestCluster, name: str = "discriminator"
) -> keras.Model:
    """Wraps a cluster-conditional discriminator into image -> logit: each image is judged within its nearest cluster.

    Real and generated images get their cluster by the same rule, so the wrapped model
    scores any image without side information (the report's ROC uses it).
    """
    image = keras.Input(shape=discriminator.inputs[0].shape[1:], name="image")
    return keras.Model(image, discriminator([image, nearest(image)]), name=name)
