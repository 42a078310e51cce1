"""`pipelines predict RUN_DIR INPUT...` and `pipelines sample RUN_DIR -n N --out DIR`.

`predict`: a finished run on new inputs, one output row per input. Inputs by pipeline:
image files or folders (`mnist`, `vit`, `denoising_autoencoder`), text files of one text
per line or CSVs with `--text-column` (`sentiment`), CSVs with the training columns
(`advertising`). The rows: the input (path, `path:line` or `path:row`), the prediction
(class name, target, or the autoencoder's anomaly score) and, for classifiers, one
probability column per class; for images, the conversion each one went through. With
`--denoised DIR` the autoencoder also writes its denoised images there. CSV (default) or
JSON, to `--out` or stdout; on bad input nothing is written.

`sample`: a `dcgan` run's generated images as PNGs, and `grid.png` of them all.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError

__all__ = ["predict_rows", "write_rows", "write_samples"]


def predict_rows(
    run_dir: str,
    inputs: list[str],
    *,
    batch_size: int = 256,
    text_column: str | None = None,
    denoised_dir: str | None = None,
) -> list[dict[str, Any]]:
    """The output rows of `pipelines predict` (see the module docstring).

    With `denoised_dir` (autoencoder runs only), the denoised images are written there as
    PNGs named after their inputs, once every input has been read and predicted.
    """
    from pipelines.atomic import check_new_folder
    from pipelines.inputs.raw_images import read_images
    from pipelines.predictor import IMAGE_PIPELINES, image_shape, load

    if denoised_dir is not None:
        check_new_folder(denoised_dir)
    predictor = load(run_dir)
    name = predictor.pipeline
    if denoised_dir is not None and name != "denoising_autoencoder":
        raise ConfigError(f"--denoised is for denoising_autoencoder runs. Received a {name!r} run")
    if not inputs:
        raise DataValidationError("expected at least one input. Received none")
    if name in IMAGE_PIPELINES:
        batch = read_images(inputs, image_shape(predictor.model))
        if name == "denoising_autoencoder":
            rows = _denoised_rows(predictor, batch, batch_size, denoised_dir)
        else:
            rows = _class_rows(
                batch.names, predictor.predict_proba(batch.images, batch_size), predictor.class_names or []
            )
        return [{**row, "conversion": conversion} for row, conversion in zip(rows, batch.conversions)]
    if name == "sentiment":
        labels, texts = _texts(inputs, text_column)
        return _class_rows(labels, predictor.predict_proba(texts, batch_size), predictor.class_names or [])
    if name == "advertising":
        labels, frame = _table(inputs)
        values = predictor.predict(frame, batch_size)
        target = str(predictor.config.get("target", "prediction"))
        return [{"input": label, target: float(v)} for label, v in zip(labels, values)]
    raise ConfigError(
        f"predict takes the runs of classifiers, advertising and the autoencoder; a {name!r} run "
        f"generates images: pipelines sample {run_dir} -n N --out DIR"
    )


def _denoised_rows(predictor: Any, batch: Any, batch_size: int, denoised_dir: str | None) -> list[dict[str, Any]]:
    denoised, scores = predictor.denoise(batch.images, batch_size)  # one pass for both
    rows: list[dict[str, Any]] = [{"input": n, "anomaly_score": float(s)} for n, s in zip(batch.names, scores)]
    if denoised_dir is None:
        return rows
    pixels = np.clip(np.round(denoised * 255.0), 0, 255).astype("uint8")
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    files = [f"{i:05d}_{Path(name).stem}.png" for i, name in enumerate(batch.names)]
    _write_pngs(denoised_dir, dict(zip(files, pixels)))
    return [{**row, "denoised": str(Path(denoised_dir) / f)} for row, f in zip(rows, files)]


def write_samples(run_dir: str, n: int, out: str, *, labels: Sequence[int] | None = None, seed: int = 0) -> Path:
    """`pipelines sample`: `n` images of a `dcgan` run as `out/00000.png`, ... and `out/grid.png`.

    Returns:
        The folder `out`, written whole or not at all.
    """
    from pipelines.atomic import check_new_folder
    from pipelines.predictor import load

    check_new_folder(out)
    predictor = load(run_dir)
    if labels is not None and len(labels) == 1:
        labels = list(labels) * n  # one class for every image
    images = predictor.sample(n, labels=labels, seed=seed)[..., 0]
    names = [f"{i:05d}" + ("" if labels is None else f"_class{labels[i]}") + ".png" for i in range(n)]
    _write_pngs(out, {**dict(zip(names, images)), "grid.png": _mosaic(images)})
    return Path(out)


def _mosaic(images: np.ndarray, columns: int = 10) -> np.ndarray:
    # Pixels as generated, no resampling: rows of `columns` images, the last row padded black.
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    h, w = images.shape[1:3]
    padded = np.zeros((rows * columns, h, w), images.dtype)
    padded[: len(images)] = images
    return padded.reshape(rows, columns, h, w).transpose(0, 2, 1, 3).reshape(rows * h, columns * w)


def _write_pngs(folder: str | os.PathLike, images: dict[str, np.ndarray]) -> None:
    from PIL import Image

    from pipelines.atomic import atomic_dir

    with atomic_dir(folder) as tmp:
        for name, pixels in images.items():
            Image.fromarray(pixels).save(tmp / name)


def _class_rows(labels: list[str], proba: np.ndarray, class_names: list[str]) -> list[dict[str, Any]]:
    rows = []
    for label, p in zip(labels, proba):
        row: dict[str, Any] = {"input": label, "prediction": class_names[int(np.argmax(p))]}
        row.update({f"p_{c}": float(v) for c, v in zip(class_names, p)})
        rows.append(row)
    return rows


def _texts(inputs: list[str], text_column: str | None) -> tuple[list[str], list[str]]:
    import pandas as pd

    labels, texts = [], []
    for item in inputs:
        path = Path(item)
        if not path.is_file():
            raise DataValidationError(f"expected text or CSV files. Received {item!r}: no such file")
        if text_column is not None:
            try:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            except (OSError, ValueError, UnicodeDecodeError) as e:
                raise DataValidationError(f"cannot read the CSV {path}: {e}") from e
            if text_column not in frame.columns:
                raise DataValidationError(
                    f"expected a column {text_column!r} in {path}. Received columns {list(frame.columns)}"
                )
            labels += [f"{path}:{i + 1}" for i in range(len(frame))]
            texts += frame[text_column].tolist()
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DataValidationError(f"cannot read {path} as UTF-8 text (one text per line): {e}") from e
        for number, line in enumerate(lines, start=1):
            if line.strip():
                labels.append(f"{path}:{number}")
                texts.append(line)
    if not texts:
        raise DataValidationError(f"expected at least one text. Received none in {inputs}")
    return labels, texts


def _table(inputs: list[str]) -> tuple[list[str], Any]:
    import pandas as pd

    frames, labels = [], []
    for item in inputs:
        path = Path(item)
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise DataValidationError(f"cannot read the CSV {item!r}: {e}") from e
        frames.append(frame)
        labels += [f"{path}:{i + 1}" for i in range(len(frame))]
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise DataValidationError(f"expected at least one row. Received none in {inputs}")
    return labels, frame


def write_rows(rows: list[dict[str, Any]], out: str | None, fmt: str) -> None:
    """Writes the rows as CSV or JSON to `out` (atomically) or stdout."""
    from pipelines.atomic import write_text

    if fmt == "json":
        text = json.dumps(rows, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if out is None:
        print(text, end="")
    else:
        write_text(Path(out), text)
