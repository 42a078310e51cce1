"""Unsupervised pixel clusters and the cluster-code layers that condition the dcgan pipeline's GAN on them."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pipelines.errors import ConfigError
from pipelines.inputs.pixel_clusters import fit_pixel_clusters
from pipelines.nets.cluster_code import ClusterCode, NearestCluster, discriminator_on_images
from pipelines.nets.gan import DCGAN, generate, make_discriminator, make_generator


def _three_blobs(seed=0):
    """Images in three well-separated pixel patterns (40, 80, 120 of them), with a little noise."""
    rng = np.random.default_rng(seed)
    patterns = np.zeros((3, 28, 28))
    patterns[0, :, :9], patterns[1, :, 9:18], patterns[2, :, 18:] = 200, 200, 200
    which = np.repeat([0, 1, 2], [40, 80, 120])
    images = np.clip(patterns[which] + rng.normal(0, 20, (240, 28, 28)), 0, 255).astype("uint8")
    return images, which


def test_kmeans_on_pixel_components_finds_separated_groups_and_their_shares():
    images, which = _three_blobs()
    c = fit_pixel_clusters(images, 3, seed=0, components=5)
    # Each pattern is one cluster (cluster ids are arbitrary, so compare partitions).
    assert all(len(set(c.labels[which == g])) == 1 for g in range(3)) and len(set(c.labels)) == 3
    np.testing.assert_allclose(sorted(c.frequencies), [40 / 240, 80 / 240, 120 / 240])
    assert c.labels.dtype == np.int32 and c.components.shape == (5, 784) and c.centroids.shape == (3, 5)
    # New images go to the cluster of their pattern.
    fresh, fresh_which = _three_blobs(seed=1)
    assert np.array_equal(c.assign(fresh), c.labels[np.searchsorted(which, fresh_which)])
    with pytest.raises(ConfigError, match="expected 2 <= clusters <= 240"):
        fit_pixel_clusters(images, 241, seed=0)


def test_cluster_code_draws_each_cluster_at_its_share_and_never_an_empty_one():
    shares = np.array([0.5, 0.0, 0.2, 0.3])
    z = np.random.default_rng(0).standard_normal((40_000, 100)).astype("float32")
    code = keras.ops.convert_to_numpy(ClusterCode(shares)(z))
    counts = np.bincount(code, minlength=4)
    assert counts[1] == 0
    # Binomial standard error at n = 40,000 is at most 0.0025: 4 of them.
    np.testing.assert_allclose(counts / len(z), shares, atol=0.01)
    # Only the first noise entry decides the cluster.
    z2 = z.copy()
    z2[:, 1:] = 0
    assert np.array_equal(keras.ops.convert_to_numpy(ClusterCode(shares)(z2)), code)
    for bad in ([1.0], [0.5, 0.6], [-0.1, 1.1]):
        with pytest.raises(ValueError, match="summing to 1"):
            ClusterCode(bad)


def test_cluster_code_draws_the_same_codes_without_erf_for_litert():
    # Export to LiteRT (no erf there) compares the noise with Phi^-1 of the cumulative shares.
    shares = np.array([0.5, 0.0, 0.2, 0.3])
    z = np.random.default_rng(1).standard_normal((40_000, 3)).astype("float32")
    layer = ClusterCode(shares)
    with_erf = keras.ops.convert_to_numpy(layer(z))
    layer.freeze_thresholds()
    without = keras.ops.convert_to_numpy(layer(z))
    assert np.bincount(without, minlength=4)[1] == 0  # the empty cluster stays empty
    assert np.mean(without != with_erf) < 1e-4  # float32 round-off at a boundary at most


def test_nearest_cluster_layer_agrees_with_the_fitted_assignment():
    images, _ = _three_blobs()
    c = fit_pixel_clusters(images, 3, seed=0, components=5)
    layer = NearestCluster(c.mean, c.components, c.centroids)
    fresh, _ = _three_blobs(seed=2)
    as_model_input = fresh[..., None].astype("float32") / 127.5 - 1.0
    assert np.array_equal(keras.ops.convert_to_numpy(layer(as_model_input)), c.assign(fresh))


def test_cluster_conditioned_gan_trains_saves_and_loads_with_unconditional_interfaces(tmp_path):
    images, which = _three_blobs()
    c = fit_pixel_clusters(images, 3, seed=0, components=5)
    generator = make_generator(filters=(8, 4), cluster_frequencies=c.frequencies, seed=0)
    discriminator = make_discriminator(num_classes=3, filters=(4, 8), seed=0)
    assert len(generator.inputs) == 1 and len(discriminator.inputs) == 2
    with pytest.raises(ValueError, match="conditional discriminator exactly when"):
        DCGAN(generator, make_discriminator(filters=(4, 8)))
    with pytest.raises(ValueError, match="not both"):
        make_generator(filters=(8, 4), num_classes=3, cluster_frequencies=c.frequencies)
    gan = DCGAN(generator, discriminator, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4), g_optimizer=keras.optimizers.Adam(2e-4))
    x = images[..., None].astype("float32") / 127.5 - 1.0
    history = gan.fit(x, c.labels, batch_size=40, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])
    # The generator saves and loads as noise -> image, the cluster shares included.
    generator.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(generate(loaded, 6, seed=1), generate(generator, 6, seed=1), atol=1e-5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.get_layer("cluster_code").cdf), np.cumsum(c.frequencies), atol=1e-6
    )
    # The wrapped discriminator judges an image within its nearest cluster: image -> logit.
    scorer = discriminator_on_images(discriminator, NearestCluster(c.mean, c.components, c.centroids))
    scorer.save(tmp_path / "d.keras")
    loaded_scorer = keras.models.load_model(tmp_path / "d.keras")
    expected = discriminator.predict([x[:8], c.labels[:8]], verbose=0)
    np.testing.assert_allclose(loaded_scorer.predict(x[:8], verbose=0), expected, atol=1e-5)


class _LabelSpy(DCGAN):
    """Records the labels the discriminator is given, in call order (eager steps only)."""

    seen: list

    def _discriminate(self, images, labels):
        self.seen.append(keras.ops.convert_to_numpy(labels).tolist())
        return super()._discriminate(images, labels)


def test_fakes_are_judged_within_their_drawn_cluster_and_real_images_within_theirs():
    # Every noise vector draws cluster 2; every real image is in cluster 0.
    generator = make_generator(filters=(8, 4), cluster_frequencies=[0.0, 0.0, 1.0], seed=0)
    gan = _LabelSpy(generator, make_discriminator(num_classes=3, filters=(4, 8), seed=0), seed=0)
    gan.seen = []
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4), g_optimizer=keras.optimizers.Adam(2e-4))
    x = np.zeros((6, 28, 28, 1), "float32")
    gan.train_step((keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(np.zeros(6, "int32"))))
    # D's update on real, then on fake; then G's update through D on fake.
    assert gan.seen == [[0] * 6, [2] * 6, [2] * 6]


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_cluster_layers_keep_float32_under_a_mixed_policy(precision):
    images, _ = _three_blobs()
    c = fit_pixel_clusters(images, 3, seed=0, components=5)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        generator = make_generator(filters=(8, 4), cluster_frequencies=[0.001, 0.998, 0.001], seed=0)
        nearest = NearestCluster(c.mean, c.components, c.centroids)
        gan = DCGAN(generator, make_discriminator(num_classes=3, filters=(4, 8), seed=0), seed=0)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-4), g_optimizer=keras.optimizers.Adam(2e-4))
        x = images[..., None].astype("float32") / 127.5 - 1.0
        assert np.isfinite(gan.fit(x[:40], c.labels[:40], batch_size=20, epochs=1, verbose=0).history["d_loss"][0])
        code = generator.get_layer("cluster_code")
        assert code.cdf.dtype == "float32" and nearest.dtype_policy.name == "float32"
        # A 1/1000 share survives: in 16 bits 0.999 and 1.0 would round together.
        z = np.random.default_rng(0).standard_normal((20_000, 100)).astype("float32")
        drawn = np.bincount(keras.ops.convert_to_numpy(code(z)), minlength=3) / len(z)
        np.testing.assert_allclose(drawn, [0.001, 0.998, 0.001], atol=0.001)
        assert np.array_equal(keras.ops.convert_to_numpy(nearest(x)), c.labels)
    finally:
        keras.config.set_dtype_policy(previous)


def test_cluster_code_rebuilt_from_its_config_alone_keeps_its_shares():
    generator = make_generator(filters=(8, 4), cluster_frequencies=[0.5, 0.0, 0.2, 0.3], seed=0)
    clone = keras.models.clone_model(generator)  # config only: fresh weights
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone.get_layer("cluster_code").cdf), [0.5, 0.5, 0.7, 1.0], atol=1e-6
    )
