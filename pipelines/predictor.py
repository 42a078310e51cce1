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

__all__ = ["Predictor", "load", "image_shape", "RUN_FILES", "IMAGE_PIPELINES"]

RUN_FILES = ("model.keras", "model_card.json", "report.json")
IMAGE_PIPELINES = ("mnist", "vit", "denoising_autoencoder")
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
        logits = self.model.predict(_model_images(self.model, inputs), batch_size=batch_size, verbose=0)
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
            return self.model.predict(_model_images(self.model, inputs), batch_size=batch_size, verbose=0)
        raise ConfigError(f"a {self.pipeline!r} run generates images: use sample(n)")

    def anomaly_scores(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """The autoencoder's reconstruction error (mean squared, per image): high for unusual images."""
        return self.denoise(inputs, batch_size)[1]

    def denoise(self, inputs: Any, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The autoencoder's denoised images and their anomaly scores, from one pass of the model."""
        if self.pipeline != "denoising_autoencoder":
            raise ConfigError(f"denoise is for denoising_autoencoder runs. Received a {self.pipeline!r} run")
        images = _model_images(self.model, inputs)
        denoised = self.model.predict(images, batch_size=batch_size, verbose=0)
        return denoised, ((denoised - images) ** 2).reshape(len(images), -1).mean(axis=1).astype("float64")

    def sample(self, n: int, *, labels: Sequence[int] | None = None, seed: int = 0) -> np.ndarray:
        """`n` generated images of a `dcgan` run, uint8 `(n, 28, 28, 1)`.

        Args:
            n: How many.
            labels: A conditional generator's class of each image (`n` of them). Defaults to
                the classes in turn (0, 1, ..., 0, 1, ...). Refused for an unconditional one.
            seed: Seed of the noise: the same seed gives the same images.
        """
        if self.pipeline != "dcgan":
            raise ConfigError(f"sample is for dcgan runs. Received a {self.pipeline!r} run")
        from pipelines.nets.gan import generate

        if n < 1:
            raise ConfigError(f"expected n >= 1 images. Received: {n}")
        classes = self.num_classes
        chosen: np.ndarray | None = None
        if labels is not None:
            chosen = np.asarray(labels)
            if classes is None or chosen.shape != (n,) or chosen.dtype.kind not in "iu":
                raise ConfigError(
                    f"expected labels only for a conditional generator, {n} class indices. Received labels of "
                    f"shape {chosen.shape} for {'a conditional' if classes else 'an unconditional'} generator"
                )
            if chosen.min() < 0 or chosen.max() >= classes:
                raise ConfigError(
                    f"expected class indices in 0..{classes - 1}. Received {sorted(set(chosen.tolist()))}"
                )
        elif classes is not None:
            chosen = np.arange(n) % classes
        images = generate(self.model, n, seed=seed, labels=chosen)
        return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype("uint8")

    @property
    def num_classes(self) -> int | None:
        """The classes a conditional `dcgan` generator takes, else `None`."""
        if self.pipeline != "dcgan" or len(self.model.inputs) < 2:
            return None
        return int(self.model.get_layer("label_one_hot").num_tokens)

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


def _model_images(model: Any, inputs: Any) -> np.ndarray:
    # What the image pipelines train on: float32 (n, height, width, channels), uint8 pixels / 255.
    from pipelines.inputs.images import to_float_images
    from pipelines.inputs.raw_images import read_images

    return to_float_images(read_images(inputs, image_shape(model)).images)


def image_shape(model: Any) -> tuple[int, int, int]:
    """(height, width, channels) of the images an image model takes."""
    height, width, channels = (int(d) for d in model.inputs[0].shape[1:])
    return height, width, channels
