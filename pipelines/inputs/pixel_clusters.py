"""Unsupervised clusters of images: k-means on the leading principal components of the pixels.

The `dcgan` pipeline conditions its GAN on these clusters to balance the modes it draws
(see `pipelines.nets.cluster_code`). No class label is used: the clusters come from the
pixels alone, so the pipeline stays an unconditional generative model.

Example:
    >>> import numpy as np
    >>> x = np.concatenate([np.zeros((20, 4, 4), "uint8"), np.full((10, 4, 4), 255, "uint8")])
    >>> c = fit_pixel_clusters(x, 2, seed=0, components=2)
    >>> sorted(np.round(c.frequencies, 3).tolist()), len(set(c.labels[:20])), len(set(c.labels[20:]))
    ([0.333, 0.667], 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.errors import ConfigError

__all__ = ["PixelClusters", "fit_pixel_clusters"]


@dataclass(frozen=True)
class PixelClusters:
    """A fitted clustering: the projection, the centroids, and each training image's cluster.

    Attributes:
        mean: (pixels,) mean of the training images scaled to [0, 1].
        components: (components, pixels) principal axes.
        centroids: (k, components) k-means centres in the projected space.
        labels: (n,) int32 cluster of each training image.
        frequencies: (k,) share of the training images in each cluster (sums to 1).
    """

    mean: np.ndarray
    components: np.ndarray
    centroids: np.ndarray
    labels: np.ndarray
    frequencies: np.ndarray

    def assign(self, images: np.ndarray) -> np.ndarray:
        """The nearest centroid of each uint8 image (same scaling and projection as the fit)."""
        z = (_flat01(images) - self.mean) @ self.components.T
        distances = ((z[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=-1)
        return distances.argmin(axis=1).astype("int32")


def fit_pixel_clusters(images: np.ndarray, k: int, *, seed: int, components: int = 50) -> PixelClusters:
    """k-means (scikit-learn, one seeded start) on the first `components` principal components.

    Args:
        images: (n, h, w) uint8 images.
        k: Number of clusters.
        seed: Seed of the PCA solver and of k-means.
        components: Principal components kept. Defaults to `50` (about 83 % of MNIST's
            pixel variance), which makes k-means fast and less sensitive to stroke noise.

    Returns:
        The fitted `PixelClusters`.

    Raises:
        ConfigError: `k` below 2 or above the number of images.
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    if not 2 <= k <= len(images):
        raise ConfigError(f"expected 2 <= clusters <= {len(images)} (the training images). Received: clusters={k}")
    flat = _flat01(images)
    pca = PCA(min(components, *flat.shape), random_state=seed).fit(flat)
    z = pca.transform(flat)
    kmeans = KMeans(k, n_init=1, random_state=seed).fit(z)
    labels = kmeans.labels_.astype("int32")
    frequencies = np.bincount(labels, minlength=k) / len(labels)
    return PixelClusters(
        pca.mean_.astype("float32"),
        pca.components_.astype("float32"),
        kmeans.cluster_centers_.astype("float32"),
        labels,
        frequencies,
    )


def _flat01(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype("float32") / 255.0
