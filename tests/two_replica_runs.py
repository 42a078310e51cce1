"""The tiny run of each pipeline that `two_replicas.py` trains under two replicas.

A module of its own, without TensorFlow, so that `test_mirrored.py` can check that every
registered pipeline has one without splitting its own process's CPU into devices.
"""

from __future__ import annotations

from typing import Any

# Tiny runs: these check that each pipeline trains and reports under two replicas, not how well.
# vit and advertising keep their default jit_compile=True, which two replicas must turn off.
PIPELINE_RUNS: dict[str, dict[str, Any]] = {
    "mnist": dict(dataset="digits", epochs=2, batch_size=64),
    "vit": dict(
        dataset="digits",
        epochs=2,
        depth=2,
        dim=32,
        heads=2,
        mlp_dim=64,
        stem_channels=(),
        patch_size=7,
        batch_size=64,
        learning_rate=3e-3,
        attention_images=2,
    ),
    "advertising": dict(
        features=("tv", "radio"), target="units", folds=3, epochs=150, linear_epochs=50, learning_rate=1e-2, widths=(8,)
    ),
    "sentiment": dict(
        cv_folds=2,
        refit=False,
        epochs=4,
        batch_size=16,
        learning_rate=1e-2,
        max_tokens=100,
        sequence_length=12,
        embed_dim=16,
        units=(8,),
        with_baseline=False,
        n_errors=2,
    ),
    "denoising_autoencoder": dict(
        epochs=2,
        stem_filters=8,
        filters=(16, 16),
        latent_filters=8,
        curve_samples=40,
        learning_rate=1e-2,
        batch_size=32,
    ),
    # Cluster-conditioned (the default mode: each replica draws its clusters from its own noise),
    # augmented, with a minibatch-std channel and a weight average: every option but conditional=True,
    # whose label path the cluster mode shares for its real images.
    "dcgan": dict(
        generator_filters=(16, 8),
        discriminator_filters=(8, 16),
        batch_size=32,
        epochs=1,
        eval_samples=200,
        clusters=20,
        use_diff_augment=True,
        minibatch_std=True,
        generator_ema=0.9,
    ),
}
