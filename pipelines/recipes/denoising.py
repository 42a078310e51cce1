"""The denoising autoencoder's data split and report, which its task module calls in order.

`split_data` holds the anomaly class out of training (a seeded sample of it, in its natural
share, joins validation to choose the anomaly threshold); `evaluate_model` scores a fixed
noisy test set (PSNR and SSIM with bootstrap intervals, per class, against the noise level)
and the anomaly detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from pipelines.evaluation import plots
from pipelines.evaluation.anomaly import add_anomaly_evaluation, reconstruction_errors
from pipelines.evaluation.bootstrap import bootstrap, interval_metrics, mean_stat
from pipelines.evaluation.classifier_report import add_interval_table, fingerprint
from pipelines.evaluation.image_quality import (
    denoising_grid_figure,
    per_class_quality,
    per_image_quality,
    psnr_curve_figure,
    psnr_ssim,
    summarize_quality,
)
from pipelines.inputs.corruption import Corruption, corrupt_images
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.splits import train_val_split
from pipelines.nets.autoencoder import denoise

if TYPE_CHECKING:
    from pipelines.evaluation.report import Report
    from pipelines.runner import RunContext
    from pipelines.tasks.denoising_autoencoder import DenoisingAutoencoderConfig

__all__ = ["Split", "split_data", "describe_dataset", "evaluate_model"]


@dataclass(frozen=True)
class Split:
    """uint8 training images (normal only); validation images and their 0/1 anomaly labels."""

    x_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def split_data(data: ImageData, config: DenoisingAutoencoderConfig) -> Split:
    """Holds `anomaly_class` out of train; validation gets its natural share of that class."""
    c = config.anomaly_class
    normal = np.ones(len(data.y_train), bool) if c is None else data.y_train != c
    x_train, _, x_val, _ = train_val_split(
        data.x_train[normal], data.y_train[normal], config.validation_fraction, config.seed
    )
    x_train = x_train[: config.max_train_samples]
    y_val = np.zeros(len(x_val), np.int64)
    if c is not None:
        held_out = data.x_train[~normal]
        share = len(held_out) / len(data.y_train)
        n = min(len(held_out), round(len(x_val) * share / (1 - share)))
        picked = held_out[np.random.default_rng(config.seed).permutation(len(held_out))[:n]]
        x_val, y_val = np.concatenate([x_val, picked]), np.concatenate([y_val, np.ones(n, np.int64)])
    return Split(x_train, x_val, y_val)


def describe_dataset(data: ImageData, split: Split, config: DenoisingAutoencoderConfig) -> dict[str, Any]:
    info = dict(data.info)
    info["splits"] = {
        "train": len(split.x_train),
        "validation": int((split.y_val == 0).sum()),
        "validation_anomalies": int(split.y_val.sum()),
        "test": len(data.y_test),
    }
    if config.anomaly_class is not None:
        name = data.class_names[config.anomaly_class]
        info["anomaly_class"] = name
        info["note"] = (
            f"Class {name!r} is held out of training; a seeded sample of its training images, in its "
            "natural proportion, is in validation to choose the anomaly threshold. The test set keeps "
            "every class."
        )
    return info


def evaluate_model(
    model: keras.Model,
    data: ImageData,
    split: Split,
    corruption: Corruption,
    config: DenoisingAutoencoderConfig,
    ctx: RunContext,
) -> dict:
    """Scores the fixed noisy test set, the PSNR curve and the anomaly detector; returns the metrics."""
    report = ctx.report
    with ctx.timer("eval_seconds"):
        clean = data.x_test[..., None].astype("float32") / 255.0
        noisy = corrupt_images(data.x_test, corruption, seed=config.test_noise_seed)
        denoised = denoise(model, noisy)
        per_image = per_image_quality(clean, noisy, denoised)
        metrics = summarize_quality(per_image)
        intervals = {"psnr_denoised": bootstrap(mean_stat(per_image["psnr_denoised"]), len(clean))}
        metrics.update(interval_metrics(intervals))
        report.add_metrics(metrics)
        add_interval_table(report, intervals, what=f"the {len(clean):,} noisy test images (mean per-image PSNR)")
        report.extra.setdefault("headline_metric", "psnr_denoised")
        report.add_predictions(
            "denoising",
            y_true=data.y_test,
            psnr_denoised=per_image["psnr_denoised"],
            psnr_noisy=per_image["psnr_noisy"],
            fingerprint=fingerprint(noisy),
        )
        report.add_table(
            "Per-class image quality",
            per_class_quality(data.y_test, data.class_names, per_image),
            note="Means over each class's test images, on the fixed noisy test set.",
        )
        first = [int(np.flatnonzero(data.y_test == k)[0]) for k in np.unique(data.y_test)]
        report.add_figure(
            "denoising_examples",
            denoising_grid_figure(clean[first], noisy[first], denoised[first], n=len(first)),
            title="Clean, noisy and denoised test images",
            caption="The first test image of each class.",
        )
        _add_psnr_curve(model, data.x_test[: config.curve_samples], corruption, config, report)
        if config.anomaly_class is not None:
            val_errors = reconstruction_errors(split.x_val[..., None] / 255.0, denoise(model, split.x_val))
            test_errors = reconstruction_errors(clean, denoise(model, clean))
            metrics.update(
                add_anomaly_evaluation(
                    report,
                    (data.y_test == config.anomaly_class).astype(int),
                    test_errors,
                    split.y_val,
                    val_errors,
                    anomaly_name=f"class {data.class_names[config.anomaly_class]}",
                )
            )
        if report.history:
            report.add_figure(
                "learning_curves",
                plots.learning_curves_figure(report.history),
                title="Learning curves",
                caption="Training and validation loss per epoch.",
            )
    return metrics


def _add_psnr_curve(
    model: keras.Model, x: np.ndarray, corruption: Corruption, config: DenoisingAutoencoderConfig, report: Report
) -> None:
    clean, rows = x[..., None].astype("float32") / 255.0, []
    for level in config.curve_levels:
        noisy = corrupt_images(x, corruption.at_level(level), seed=config.test_noise_seed)
        rows.append(
            {
                "level": level,
                "psnr_noisy": float(psnr_ssim(clean, noisy, with_ssim=False)[0].mean()),
                "psnr_denoised": float(psnr_ssim(clean, denoise(model, noisy), with_ssim=False)[0].mean()),
            }
        )
    report.add_table("PSNR against noise level", rows, note=f"Mean over the first {len(x)} test images.")
    report.add_figure(
        "psnr_vs_noise",
        psnr_curve_figure(
            [r["level"] for r in rows],
            [r["psnr_noisy"] for r in rows],
            [r["psnr_denoised"] for r in rows],
            trained_level=corruption.level,
            xlabel=f"{corruption.kind} level",
        ),
        title="PSNR against noise level",
        caption="The model was trained at the dashed level only.",
    )
