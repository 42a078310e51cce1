"""Predict throughput per pipeline: the predictor on raw inputs, against the bare net, and the exports.

Each pipeline is trained once here with quick settings (throughput does not depend on how
well a net is trained), then, on 2,000 real inputs of its kind (MNIST test digits as uint8
arrays, MR snippets, the ISLR advertising table repeated to 2,000 rows, noise for the DCGAN):

- `pipelines.load(run).predict_proba / predict / anomaly_scores / sample`: raw inputs in,
  the answer out (conversion included), batch 256;
- reference, side by side in the same process: the bare Keras net's `predict` on inputs
  already converted, batch 256: the cost of the conversion is the gap;
- the exported artifacts (SavedModel, ONNX, LiteRT), loaded once, on the same raw inputs in
  one call (`pipelines.export.load_artifact`);
- `mnist` also from 2,000 PNG files on disk (`pipelines predict`'s path: open, decode, convert).

Each figure is the best of `--repeats` timings (inputs per second), after one warm-up call.

    python benchmarks/predict.py [--n 2000] [--repeats 3]
    python benchmarks/predict.py --smoke     # 200 inputs, printed only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import markdown_table, publish  # noqa: E402

QUICK: dict[str, dict[str, Any]] = {
    "mnist": dict(epochs=1, max_train_samples=6000),
    "vit": dict(epochs=1, max_train_samples=6000),
    "denoising_autoencoder": dict(epochs=1, max_train_samples=4000, curve_samples=200),
    "sentiment": dict(dataset="mr", cv_folds=2, refit=False, epochs=1, with_baseline=False),
    "advertising": dict(folds=3, epochs=200),
    "dcgan": dict(
        epochs=1, max_train_samples=3840, eval_samples=500, fid_classifier_epochs=1, fid_classifier_train_samples=2000
    ),
}


def best_rate(call: Callable[[], Any], n: int, repeats: int) -> float:
    call()  # warm-up: tracing, first allocation
    best = min(_timed(call) for _ in range(repeats))
    return n / best


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def workload(name: str, predictor: Any, digits: np.ndarray, texts: np.ndarray, table: Any) -> tuple:
    """(what the inputs are, the predictor's call, the bare net's call, the serving inputs)."""
    from pipelines.recipes.text_classifier import predict_raw_texts

    net, n = predictor.model, len(digits)
    if name in ("mnist", "vit", "denoising_autoencoder"):
        scaled = digits[..., None] / np.float32(255)
        use = predictor.anomaly_scores if name == "denoising_autoencoder" else predictor.predict_proba
        return (
            "uint8 digits (n, 28, 28)",
            lambda: use(digits),
            lambda: net.predict(scaled, batch_size=256, verbose=0),
            {"images": digits[..., None]},
        )
    if name == "sentiment":
        return (
            "MR snippets (strings)",
            lambda: predictor.predict_proba(list(texts)),
            lambda: predict_raw_texts(net, texts, 256),
            {"texts": np.asarray(texts, dtype=object)},
        )
    if name == "advertising":
        features = table[list(predictor.config["features"])].to_numpy("float32")
        return (
            "rows of a DataFrame",
            lambda: predictor.predict(table),
            lambda: net.predict(features, batch_size=256, verbose=0),
            {"features": features},
        )
    noise = np.random.default_rng(0).standard_normal((n, 100)).astype("float32")
    return (
        "generated images",
        lambda: predictor.sample(n, seed=0),
        lambda: net.predict(noise, batch_size=256, verbose=0),
        {"noise": noise},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    n = 200 if args.smoke else args.n

    import pandas as pd
    from PIL import Image

    import pipelines
    from pipelines.export import ARTIFACTS, EXPORT_FORMATS, export_run, load_artifact
    from pipelines.inputs.mnist import load_mnist_family
    from pipelines.inputs.text.mr import load_mr
    from pipelines.predict_cli import predict_rows

    data_dir = Path(os.environ.get("PIPELINES_DATA_DIR", "../shared/datasets"))
    digits = load_mnist_family("mnist", data_dir).x_test[:n]
    mr = load_mr(data_dir).texts_train
    texts = mr[:: max(1, len(mr) // n)][:n]
    table = pd.read_csv(data_dir / "advertising" / "Advertising.csv")
    table = pd.concat([table] * (-(-n // len(table))), ignore_index=True).head(n)
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, quick in QUICK.items():
            run_dir = Path(tmp) / name
            print(f"training {name} ...", flush=True)
            pipelines.run(name, out=str(run_dir), verbose=0, **quick)
            predictor = pipelines.load(run_dir)
            what, use, bare, serving = workload(name, predictor, digits, texts, table)
            row = [name, what, best_rate(use, n, args.repeats), best_rate(bare, n, args.repeats)]
            for format in ("saved_model", "onnx", "litert"):
                if format not in EXPORT_FORMATS[name]:
                    row.append("refused")
                    continue
                folder = export_run(run_dir, format, Path(tmp) / f"{name}-{format}")
                call = load_artifact(folder / ARTIFACTS[format])
                row.append(best_rate(lambda: call(serving), n, args.repeats))  # noqa: B023
            rows.append(row)
            print(row, flush=True)
            if name == "mnist":
                folder = Path(tmp) / "pngs"
                folder.mkdir()
                for i, image in enumerate(digits):
                    Image.fromarray(image).save(folder / f"{i:05d}.png")
                rate = best_rate(lambda: predict_rows(str(run_dir), [str(folder)]), n, args.repeats)  # noqa: B023
                rows.append(["mnist", "PNG files, `pipelines predict`'s path", rate, "-", "-", "-", "-"])
                print(rows[-1], flush=True)

    header = ["pipeline", f"{n:,} inputs", "predictor /s", "bare net /s", "SavedModel /s", "ONNX /s", "LiteRT /s"]
    body = markdown_table(header, [[v if isinstance(v, str) else f"{v:,.0f}" for v in row] for row in rows])
    note = (
        f"Inputs per second, best of {args.repeats} after a warm-up. predictor: `pipelines.load(run)` on the raw "
        "inputs (conversion included; `predict_proba`, `anomaly_scores`, `predict` or `sample`). bare net: the "
        "Keras net's `predict` on inputs already converted, in the same process: the gap is the conversion's cost. "
        "Both in batches of 256; each exported artifact (loaded once) takes all inputs in one call. The PNG row "
        "includes loading the run (model and card) and decoding the files on each call. `refused`: the format "
        "cannot carry the pipeline (README, Export for serving)."
    )
    publish("Predict throughput per pipeline", body + "\n\n" + note, smoke=args.smoke)


if __name__ == "__main__":
    main()
