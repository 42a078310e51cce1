"""Image-quality metrics and figures of a denoiser: PSNR and SSIM against the clean images.

Every number comes from `tf.image.psnr` and `tf.image.ssim` with `max_val=1` (images in
[0, 1]), computed per image and then summarized over the images as a mean and a standard
deviation, so `psnr_denoised` is the mean per-image PSNR, not the PSNR of the mean error.

Example:
    >>> clean = np.full((4, 16, 16, 1), 0.5, "float32")
    >>> m = image_quality_metrics(clean, clean * 0.9, clean * 0.98)
    >>> round(m["psnr_noisy"], 2), round(m["psnr_gain_db"], 2)
    (26.02, 13.98)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from pipelines.errors import DataValidationError
from pipelines.evaluation.plots import FIGSIZE, image_grid_figure

__all__ = [
    "psnr_ssim",
    "per_image_quality",
    "summarize_quality",
    "image_quality_metrics",
    "per_class_quality",
    "psnr_curve_figure",
    "denoising_grid_figure",
]

# Images per tf.image call: SSIM's intermediate maps of 10k images would take ~0.5 GB.
_CHUNK = 1000


@overload
def psnr_ssim(
    reference: np.ndarray, images: np.ndarray, *, with_ssim: Literal[True] = ...
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def psnr_ssim(
    reference: np.ndarray, images: np.ndarray, *, with_ssim: bool
) -> tuple[np.ndarray, np.ndarray | None]: ...
def psnr_ssim(
    reference: np.ndarray, images: np.ndarray, *, with_ssim: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-image PSNR (dB) and SSIM of `images` against `reference`, both in [0, 1].

    Args:
        reference: The clean images, `(n, h, w, c)` (or `(n, h, w)`), float in [0, 1].
        images: The images to score, same shape.
        with_ssim: Also compute SSIM, about 50 times the cost of PSNR. Defaults to `True`.

    Returns:
        `(psnr, ssim)`, float64 arrays of shape `(n,)` (`ssim` is None without
        `with_ssim`). An image equal to its reference has infinite PSNR, as in
        `tf.image.psnr`.

    Raises:
        DataValidationError: The shapes differ, or an image is smaller than SSIM's 11x11 window.

    Example:
        >>> a = np.zeros((2, 11, 11, 1)); b = a + 0.1
        >>> [round(float(v), 6) for v in psnr_ssim(a, b)[0]]
        [20.0, 20.0]
    """
    reference, images = _as_batch(reference, "reference"), _as_batch(images, "images")
    if reference.shape != images.shape:
        raise DataValidationError(
            f"expected images of the reference's shape {reference.shape}. Received: {images.shape}"
        )
    if with_ssim and min(reference.shape[1:3]) < 11:
        raise DataValidationError(
            f"expected images of at least 11x11 pixels (SSIM's Gaussian window). Received: {reference.shape[1:3]}"
        )
    psnr, ssim = [], []
    for start in range(0, len(images), _CHUNK):
        a, b = reference[start : start + _CHUNK], images[start : start + _CHUNK]
        psnr.append(tf.image.psnr(a, b, max_val=1.0).numpy())
        if with_ssim:
            # Padded to a whole chunk, so XLA compiles one shape only.
            pad = [(0, _CHUNK - len(a))] + [(0, 0)] * 3
            ssim.append(_ssim(np.pad(a, pad), np.pad(b, pad)).numpy()[: len(a)])
    return (np.concatenate(psnr).astype(np.float64), np.concatenate(ssim).astype(np.float64) if with_ssim else None)


# XLA-compiled: TensorFlow's CPU kernel for SSIM's 11x11 depthwise Gaussian filter took
# 12-19 s for 10k 28x28 images here, the compiled graph 2.5 s, equal to ~3e-7.
@tf.function(jit_compile=True)
def _ssim(reference: tf.Tensor, images: tf.Tensor) -> tf.Tensor:
    return tf.image.ssim(reference, images, max_val=1.0)


def per_image_quality(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image `psnr_noisy`, `psnr_denoised`, `ssim_noisy` and `ssim_denoised`, each `(n,)`.

    Args:
        clean: The targets, `(n, h, w, c)`, float in [0, 1].
        noisy: The corrupted inputs, same shape.
        denoised: The model's outputs, same shape.

    Raises:
        DataValidationError: As `psnr_ssim`.

    Example:
        >>> x = np.full((3, 12, 12), 0.5)
        >>> sorted(per_image_quality(x, x * 0.9, x * 0.95))
        ['psnr_denoised', 'psnr_noisy', 'ssim_denoised', 'ssim_noisy']
    """
    psnr_noisy, ssim_noisy = psnr_ssim(clean, noisy)
    psnr_denoised, ssim_denoised = psnr_ssim(clean, denoised)
    return {
        "psnr_noisy": psnr_noisy,
        "psnr_denoised": psnr_denoised,
        "ssim_noisy": ssim_noisy,
        "ssim_denoised": ssim_denoised,
    }


def summarize_quality(per_image: dict[str, np.ndarray]) -> dict[str, float]:
    """Means and standard deviations of `per_image_quality`'s values, and the PSNR gain.

    Returns:
        `psnr_noisy`, `psnr_noisy_std`, `psnr_denoised`, `psnr_denoised_std`,
        `psnr_gain_db` (mean denoised minus mean noisy PSNR), `ssim_noisy`,
        `ssim_noisy_std`, `ssim_denoised`, `ssim_denoised_std`, as Python floats.

    Example:
        >>> one = np.array([1.0, 3.0])
        >>> keys = ("psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised")
        >>> summarize_quality({key: one for key in keys})["psnr_noisy_std"]
        1.0
    """
    metrics: dict[str, float] = {}
    for name in ("psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised"):
        metrics[name] = float(np.mean(per_image[name]))
        metrics[f"{name}_std"] = float(np.std(per_image[name]))
    metrics["psnr_gain_db"] = metrics["psnr_denoised"] - metrics["psnr_noisy"]
    order = (
        "psnr_noisy",
        "psnr_noisy_std",
        "psnr_denoised",
        "psnr_denoised_std",
        "psnr_gain_db",
        "ssim_noisy",
        "ssim_noisy_std",
        "ssim_denoised",
        "ssim_denoised_std",
    )
    return {name: metrics[name] for name in order}


def image_quality_metrics(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of the noisy and of the denoised images against the clean ones.

    The composition of `per_image_quality` and `summarize_quality`.

    Args:
        clean: The targets, `(n, h, w, c)`, float in [0, 1].
        noisy: The corrupted inputs, same shape.
        denoised: The model's outputs, same shape.

    Returns:
        The metrics of `summarize_quality`.

    Raises:
        DataValidationError: As `psnr_ssim`.

    Example:
        >>> x = np.full((2, 12, 12), 0.5)
        >>> round(image_quality_metrics(x, x * 0.9, x * 0.99)["psnr_gain_db"], 2)
        20.0
    """
    return summarize_quality(per_image_quality(clean, noisy, denoised))


def per_class_quality(
    y: np.ndarray, class_names: Sequence[str], per_image: dict[str, np.ndarray]
) -> list[dict[str, object]]:
    """One row per class: its name, its number of images and the mean of each per-image value.

    Args:
        y: Integer class of each image, `(n,)`.
        class_names: Name of each class, indexed by label.
        per_image: Name to one value per image, as from `per_image_quality`.

    Returns:
        Rows with keys `class`, `n`, then the keys of `per_image` (None for an absent class).

    Example:
        >>> per_class_quality(np.array([0, 1, 1]), ["a", "b"], {"psnr": np.array([1.0, 2.0, 4.0])})[1]
        {'class': 'b', 'n': 2, 'psnr': 3.0}
    """
    y = np.asarray(y)
    rows: list[dict[str, object]] = []
    for k, name in enumerate(class_names):
        members = y == k
        rows.append(
            {
                "class": str(name),
                "n": int(members.sum()),
                **{key: float(values[members].mean()) if members.any() else None for key, values in per_image.items()},
            }
        )
    return rows


def psnr_curve_figure(
    levels: Sequence[float],
    psnr_noisy: Sequence[float],
    psnr_denoised: Sequence[float],
    *,
    trained_level: float | None = None,
    xlabel: str = "noise level",
) -> Figure:
    """Draws mean PSNR of the noisy and the denoised images against the noise level.

    Args:
        levels: The noise levels, increasing.
        psnr_noisy: Mean PSNR of the noisy images at each level.
        psnr_denoised: Mean PSNR of the denoised images at each level.
        trained_level: The level the model was trained at, marked by a vertical line.
            Defaults to `None` (no line).
        xlabel: The x-axis label. Defaults to `"noise level"`.

    Returns:
        The figure.

    Raises:
        DataValidationError: The three sequences differ in length or are empty.

    Example:
        >>> fig = psnr_curve_figure([0.1, 0.2], [20.0, 15.0], [25.0, 23.0], trained_level=0.2)
        >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
        ['noisy', 'denoised']
    """
    x, noisy, denoised = (np.asarray(v, dtype=np.float64) for v in (levels, psnr_noisy, psnr_denoised))
    if x.ndim != 1 or not len(x) or not (len(x) == len(noisy) == len(denoised)):
        raise DataValidationError(
            "expected one noisy and one denoised PSNR per level. Received: "
            f"{len(x)} levels, {len(noisy)} and {len(denoised)} values."
        )
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(x, noisy, marker="o", label="noisy")
    ax.plot(x, denoised, marker="o", label="denoised")
    if trained_level is not None:
        ax.axvline(trained_level, color="0.5", ls="--", lw=0.8, label=f"trained at {trained_level:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean PSNR (dB)")
    ax.set_title("PSNR against noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def denoising_grid_figure(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, *, n: int = 8) -> Figure:
    """Draws the first `n` images in three rows: clean, noisy, denoised.

    Args:
        clean: Clean images, `(m, h, w)` or `(m, h, w, 1)`, `m >= n`.
        noisy: Their corrupted versions.
        denoised: The model's outputs.
        n: Columns (images per row). Defaults to `8`.

    Returns:
        The figure.

    Example:
        >>> x = np.zeros((3, 8, 8))
        >>> len([ax for ax in denoising_grid_figure(x, x, x, n=3).axes if ax.get_visible()])
        9
    """
    rows = [np.asarray(a)[:n] for a in (clean, noisy, denoised)]
    n = min(len(r) for r in rows)
    titles = [f"{name} {i}" for name in ("clean", "noisy", "denoised") for i in range(n)]
    return image_grid_figure(np.concatenate([r[:n] for r in rows]), titles, ncols=n)


def _as_batch(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise DataValidationError(f"expected `{name}` of shape (n, h, w) or (n, h, w, c). Received: {images.shape}")
    return images
