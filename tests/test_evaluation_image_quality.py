"""Tests of pipelines.evaluation.image_quality: PSNR/SSIM as tf.image computes them, and figures."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipelines.errors import DataValidationError
from pipelines.evaluation.image_quality import (
    denoising_grid_figure,
    image_quality_metrics,
    per_class_quality,
    per_image_quality,
    psnr_curve_figure,
    psnr_ssim,
    summarize_quality,
)


def _images(n, seed):
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype="float32")


def test_psnr_and_ssim_equal_tf_image_across_chunks():
    clean = _images(1203, 0)  # more than one chunk of 1000, and a ragged last one
    noisy = np.clip(clean + 0.2 * np.random.default_rng(1).normal(size=clean.shape), 0, 1).astype("float32")
    psnr, ssim = psnr_ssim(clean, noisy)
    np.testing.assert_allclose(psnr, tf.image.psnr(clean, noisy, max_val=1.0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ssim, tf.image.ssim(clean, noisy, max_val=1.0).numpy(), atol=1e-5)
    assert psnr.shape == ssim.shape == (1203,) and psnr.dtype == np.float64


def test_summary_is_the_mean_and_std_of_the_per_image_values():
    clean, noisy, denoised = _images(50, 2), _images(50, 3), _images(50, 4) * 0.1 + _images(50, 2) * 0.9
    metrics = image_quality_metrics(clean, noisy, denoised)
    psnr_noisy = tf.image.psnr(clean, noisy, max_val=1.0).numpy()
    psnr_denoised = tf.image.psnr(clean, denoised, max_val=1.0).numpy()
    ssim_denoised = tf.image.ssim(clean, denoised, max_val=1.0).numpy()
    assert metrics["psnr_noisy"] == pytest.approx(psnr_noisy.mean(), rel=1e-6)
    assert metrics["psnr_denoised_std"] == pytest.approx(psnr_denoised.std(), rel=1e-5)
    assert metrics["psnr_gain_db"] == pytest.approx(psnr_denoised.mean() - psnr_noisy.mean(), rel=1e-6)
    assert metrics["ssim_denoised"] == pytest.approx(ssim_denoised.mean(), abs=1e-5)
    assert metrics["psnr_gain_db"] > 5 and metrics["ssim_denoised"] > metrics["ssim_noisy"]
    assert list(metrics) == [
        "psnr_noisy",
        "psnr_noisy_std",
        "psnr_denoised",
        "psnr_denoised_std",
        "psnr_gain_db",
        "ssim_noisy",
        "ssim_noisy_std",
        "ssim_denoised",
        "ssim_denoised_std",
    ]


def test_a_known_psnr():
    clean = np.full((2, 12, 12), 0.5)
    assert psnr_ssim(clean, clean - 0.1)[0] == pytest.approx([20.0, 20.0], abs=1e-4)  # 10 log10(1 / 0.01)


def test_psnr_only_works_on_small_images_and_ssim_refuses_them():
    small = np.zeros((3, 8, 8))
    psnr, ssim = psnr_ssim(small, small + 0.1, with_ssim=False)
    assert ssim is None and psnr == pytest.approx([20.0] * 3, abs=1e-4)
    with pytest.raises(DataValidationError, match="at least 11x11"):
        psnr_ssim(small, small)


def test_shape_mismatch():
    with pytest.raises(DataValidationError, match="reference's shape"):
        psnr_ssim(_images(2, 0), _images(3, 0))


def test_per_class_rows():
    per_image = per_image_quality(_images(4, 5), _images(4, 6), _images(4, 5) * 0.99)
    rows = per_class_quality(np.array([0, 1, 1, 0]), ["zero", "one", "two"], per_image)
    assert [(r["class"], r["n"]) for r in rows] == [("zero", 2), ("one", 2), ("two", 0)]
    assert rows[1]["psnr_noisy"] == pytest.approx(per_image["psnr_noisy"][1:3].mean())
    assert rows[2]["ssim_denoised"] is None
    assert summarize_quality(per_image)["ssim_denoised"] == pytest.approx(1.0, abs=1e-3)


def test_psnr_curve_figure():
    fig = psnr_curve_figure([0.1, 0.4, 0.7], [20, 11, 8], [26, 21, 15], trained_level=0.4, xlabel="gaussian level")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["noisy", "denoised", "trained at 0.4"]
    assert ax.get_xlabel() == "gaussian level"
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [26, 21, 15])
    with pytest.raises(DataValidationError, match="one noisy and one denoised PSNR per level"):
        psnr_curve_figure([0.1, 0.2], [1.0], [2.0, 3.0])


def test_denoising_grid_has_three_rows():
    x = _images(12, 7)
    fig = denoising_grid_figure(x, x, x, n=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [f"{row} {i}" for row in ("clean", "noisy", "denoised") for i in range(4)]
