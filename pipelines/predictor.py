"""Use a finished run on new inputs: `pipelines.load(RUN_DIR)` gives a predictor.

The predictor takes the raw inputs of its pipeline and converts them to what the model was
trained on:
- `mnist`, `vit`: image files or folders of them (PNG, JPEG, BMP, GIF; any size, grayscale
  or colour) and uint8 arrays `(n, H, W)` or `(n, H, W, C)`, converted to 28x28 grayscale
  (luminance, bilinear resizing); `predict` gives class names, `predict_proba` one column
  per class;
- `sentiment`: strings; `predict_proba` gives P(class 0), P(class 1) per text;
- `advertising`: a DataFrame with the training feature columns (extra columns ignored), or
  an array of them in that order; `predict` gives the target;
- `denoising_autoencoder`: images as for the classifiers; `predict` gives the denoised
  images, `anomaly_scores` the reconstruction error per image;
- `dcgan`: `sample(n)` gives uint8 images.

Usage (after a run):

    predictor = pipelines.load("reports/mnist/2026-12-07T17-00-00")
    predictor.predict(["digit.png"]), predictor.class_names
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError, ModelLoadError

__all__ = ["Predictor", "load", "read_images", "IMAGE_SUFFIXES", "RUN_FILES"]

RUN_FILES = ("model.keras", "model_card.json", "report.json")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IMAGE_SIZE = 28
_IMAGE_PIPELINES = ("mnist", "vit", "denoising_autoencoder")
_CLASSIFIERS = ("mnist", "vit", "sentiment")


def load(run_dir: str | os.PathLike) -> Predictor:
    """The predictor of a finished run's folder (its `model.keras`, loaded with `safe_mode=True`).

    Raises:
        ModelLoadError: A file is missing or unreadable, the model card and the report name
            different pipelines, or the model does not fit its pipeline.
    """
    from pipelines import registry
    from pipelines.models import load_model

    folder = Path(run_dir)
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(
            f"expected a finished run's folder with {', '.join(RUN_FILES)}. Received: {str(folder)!r}, "
            f"without {', '.join(missing)}"
        )
    card, report = (_read_json(folder / name) for name in ("model_card.json", "report.json"))
    if card.get("pipeline") != report.get("pipeline") or report.get("status", "ok") != "ok":
        raise ModelLoadError(
            f"the files of {str(folder)!r} do not belong together: model_card.json is of "
            f"{card.get('pipeline')!r}, report.json of {report.get('pipeline')!r} (status {report.get('status')!r})"
        )
    name = str(card["pipeline"])
    task = registry.get_task(name)  # imports the pipeline's module, and its registered layers
    model = load_model(folder / "model.keras")
    config = task.config_cls(**{k: v for k, v in _config_values(card, task).items()})
    if task.check_model is not None:
        task.check_model(model, config)
    return Predictor(name, model, dict(card.get("config", {})), dict(report.get("metrics", {})), card, folder)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ModelLoadError(f"cannot read {path}: {e}") from e
    if not isinstance(value, dict):
        raise ModelLoadError(f"expected a JSON object in {path}. Received: {type(value).__name__}")
    return value


def _config_values(card: dict[str, Any], task: Any) -> dict[str, Any]:
    # The card's config as the task's dataclass takes it (nested sections stay at their defaults).
    from dataclasses import fields, is_dataclass

    saved = card.get("config", {})
    defaults = task.config_cls()
    values = {}
    for f in fields(defaults):
        if f.name in saved and not is_dataclass(getattr(defaults, f.name)):
            value = saved[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return values


class Predictor:
    """A trained model with its pipeline's input conversion (see the module docstring).

    Attributes:
        pipeline: The pipeline's name.
        model: The Keras model.
        config: The run's config, as saved.
        metrics: The run's test metrics.
        class_names: The classes of a classifier, else `None`.
        run_dir: The run's folder.
    """

    def __init__(self, pipeline: str, model: Any, config: dict, metrics: dict, card: dict, run_dir: Path) -> None:
        self.pipeline = pipeline
        self.model = model
        self.config = config
        self.metrics = metrics
        self.class_names = list(card["class_names"]) if pipeline in _CLASSIFIERS and "class_names" in card else None
        self.run_dir = run_dir

    def __repr__(self) -> str:
        return f"Predictor({self.pipeline!r}, run_dir={str(self.run_dir)!r})"

    def predict_proba(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Class probabilities, `(n, k)`: one column per entry of `class_names`."""
        if self.pipeline == "sentiment":
            p = self._text_proba(inputs, batch_size)
            return np.column_stack([1 - p, p])
        if self.pipeline not in ("mnist", "vit"):
            raise ConfigError(f"predict_proba is for classifiers. Received a {self.pipeline!r} run")
        logits = self.model.predict(_model_images(read_images(inputs)[0]), batch_size=batch_size, verbose=0)
        z = logits.astype("float64") - logits.max(axis=1, keepdims=True)
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    def predict(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Class names (classifiers), the target (advertising) or denoised images (autoencoder)."""
        if self.pipeline in _CLASSIFIERS:
            assert self.class_names is not None, "a classifier's card names its classes"
            return np.asarray(self.class_names, dtype=object)[self.predict_proba(inputs, batch_size).argmax(axis=1)]
        if self.pipeline == "advertising":
            return self.model.predict(self._features(inputs), batch_size=batch_size, verbose=0)[:, 0].astype("float64")
        if self.pipeline == "denoising_autoencoder":
            return self.model.predict(_model_images(read_images(inputs)[0]), batch_size=batch_size, verbose=0)
        raise ConfigError(f"a {self.pipeline!r} run generates images: use sample(n)")

    def anomaly_scores(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """The autoencoder's reconstruction error (mean squared, per image): high for unusual images."""
        if self.pipeline != "denoising_autoencoder":
            raise ConfigError(f"anomaly_scores is for denoising_autoencoder runs. Received a {self.pipeline!r} run")
        images = _model_images(read_images(inputs)[0])
        denoised = self.model.predict(images, batch_size=batch_size, verbose=0)
        return ((denoised - images) ** 2).reshape(len(images), -1).mean(axis=1).astype("float64")

    def sample(self, n: int, *, labels: Sequence[int] | None = None, seed: int = 0) -> np.ndarray:
        """`n` generated images of a `dcgan` run, uint8 `(n, 28, 28, 1)` (labels for a conditional one)."""
        if self.pipeline != "dcgan":
            raise ConfigError(f"sample is for dcgan runs. Received a {self.pipeline!r} run")
        from pipelines.nets.gan import generate

        images = generate(self.model, n, seed=seed, labels=None if labels is None else np.asarray(labels))
        return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("uint8")

    def _text_proba(self, texts: Any, batch_size: int) -> np.ndarray:
        from pipelines.recipes.text_classifier import predict_raw_texts

        if isinstance(texts, str) or len(texts) == 0 or not all(isinstance(t, str) for t in texts):
            raise DataValidationError("expected a non-empty list of strings (one text each)")
        texts = list(texts)
        p = predict_raw_texts(self.model, texts, batch_size)
        unknown = np.flatnonzero(np.isnan(p))
        if len(unknown):
            raise DataValidationError(
                f"expected texts with a word the model knows. Received {len(unknown)} without one, at index "
                f"{unknown[:5].tolist()}, e.g. {texts[unknown[0]]!r}: the model cannot predict them"
            )
        return p

    def _features(self, inputs: Any) -> np.ndarray:
        import pandas as pd

        features = list(self.config.get("features", []))
        if isinstance(inputs, pd.DataFrame):
            missing = [c for c in features if c not in inputs.columns]
            if missing:
                raise DataValidationError(
                    f"expected the training columns {features}. Received a table without {missing}"
                )
            inputs = inputs[features]
        try:
            values = np.asarray(inputs, dtype="float64")
        except (TypeError, ValueError) as e:
            raise DataValidationError(f"expected numbers in the columns {features}: {e}") from e
        if values.ndim != 2 or values.shape[1] != len(features) or not np.isfinite(values).all():
            raise DataValidationError(
                f"expected finite numbers, one column per feature {features}. Received shape {values.shape}"
            )
        return values.astype("float32")


def read_images(inputs: Any) -> tuple[np.ndarray, list[str]]:
    """Images as uint8 `(n, 28, 28)` and a name for each (its path, or its row number).

    Args:
        inputs: A path (an image file or a folder of them), a list of paths, or a uint8 array
            `(n, H, W)` / `(n, H, W, C)` with C of 1, 3 or 4.

    Raises:
        DataValidationError: No image, an unreadable file (named), or an array of another shape or type.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(inputs, np.ndarray):
        if (
            inputs.dtype != np.uint8
            or inputs.ndim not in (3, 4)
            or (inputs.ndim == 4 and inputs.shape[3] not in (1, 3, 4))
        ):
            raise DataValidationError(
                f"expected uint8 images (n, H, W) or (n, H, W, C) with C in 1, 3, 4. "
                f"Received {inputs.dtype} of shape {inputs.shape}"
            )
        pictures = [
            Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image) for image in inputs
        ]
        names = [str(i) for i in range(len(inputs))]
    else:
        paths = _image_paths(inputs)
        pictures, names = [], []
        for path in paths:
            try:
                with Image.open(path) as picture:
                    picture.load()
                    pictures.append(picture.copy())
            except (OSError, UnidentifiedImageError) as e:
                raise DataValidationError(f"cannot read the image {path}: {e}") from e
            names.append(str(path))
    if not pictures:
        raise DataValidationError("expected at least one image. Received none")
    converted = [
        np.asarray(p.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR), dtype=np.uint8)
        for p in pictures
    ]
    return np.stack(converted), names


def _image_paths(inputs: Any) -> list[Path]:
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
        elif path.is_file():
            paths.append(path)
        else:
            raise DataValidationError(f"expected image files or folders. Received {str(path)!r}: no such file")
    return paths


def _model_images(images: np.ndarray) -> np.ndarray:
    # What the image pipelines train on: float32 (n, 28, 28, 1), uint8 pixels divided by 255.
    return (images.astype("float32") / 255.0)[..., None]
