"""`pipelines predict RUN_DIR INPUT...`: a finished run on new inputs, one output row per input.

Inputs by pipeline: image files or folders (`mnist`, `vit`, `denoising_autoencoder`), text
files of one text per line or CSVs with `--text-column` (`sentiment`), CSVs with the
training columns (`advertising`). The rows: the input (path, `path:line` or `path:row`),
the prediction (class name, target, or the autoencoder's anomaly score) and, for
classifiers, one probability column per class. CSV (default) or JSON, to `--out` or stdout;
on bad input nothing is written.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DataValidationError

__all__ = ["predict_rows", "write_rows"]


def predict_rows(
    run_dir: str, inputs: list[str], *, batch_size: int = 256, text_column: str | None = None
) -> list[dict[str, Any]]:
    """The output rows of `pipelines predict` (see the module docstring)."""
    from pipelines.predictor import load, read_images

    predictor = load(run_dir)
    name = predictor.pipeline
    if not inputs:
        raise DataValidationError("expected at least one input. Received none")
    if name in ("mnist", "vit", "denoising_autoencoder"):
        images, labels = read_images(inputs)
        if name == "denoising_autoencoder":
            scores = predictor.anomaly_scores(images, batch_size)
            return [{"input": label, "anomaly_score": float(s)} for label, s in zip(labels, scores)]
        proba = predictor.predict_proba(images, batch_size)
        return _class_rows(labels, proba, predictor.class_names or [])
    if name == "sentiment":
        labels, texts = _texts(inputs, text_column)
        return _class_rows(labels, predictor.predict_proba(texts, batch_size), predictor.class_names or [])
    if name == "advertising":
        labels, frame = _table(inputs)
        values = predictor.predict(frame, batch_size)
        target = str(predictor.config.get("target", "prediction"))
        return [{"input": label, target: float(v)} for label, v in zip(labels, values)]
    raise ConfigError(
        f"predict takes the runs of classifiers, advertising and the autoencoder. Received a {name!r} run"
    )


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
