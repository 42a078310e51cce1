"""Sentiment: the `sentiment` pipeline against the Keras `bidirectional_lstm_imdb` example.

Both read the same IMDB files (25k train / 25k test, from PIPELINES_DATA_DIR), each in its
own fresh process. The Keras example (keras.io examples/nlp/bidirectional_lstm_imdb.py)
uses `keras.datasets.imdb`, the same reviews as word ids of the 20,000 most frequent
words; offline, we rebuild that input with a `TextVectorization` of 20,000 tokens adapted
on the training texts, then `pad_sequences(maxlen=200)` (which, as in the example, keeps
the last 200 words). Its model and training are unchanged: Embedding(20000, 128), two
BiLSTM(64), sigmoid output, Adam, batch 32, 2 epochs, validation on the test set.

Reported: test accuracy (25k), wall time per epoch and in total. For our pipeline also the
TF-IDF baseline and the ensemble of the same run. Ours trains twice by default (refit=True):
a run validated on held-out reviews chooses the epochs, threshold and ensemble weight, then
the tested model learns from all 25k, as the baseline does.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/sentiment.py [--no-write]
    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/sentiment.py --mr   # 10-fold MR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

KERAS_EXAMPLE = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, keras, tensorflow as tf
    from keras import layers
    from pipelines.inputs.text import load_imdb
    keras.utils.set_random_seed(int(sys.argv[1]))
    max_features, maxlen = 20000, 200
    d = load_imdb()
    vectorize = layers.TextVectorization(max_tokens=max_features)
    vectorize.adapt(tf.data.Dataset.from_tensor_slices(d.texts_train).batch(1024))
    def ids(texts):
        seqs = [row[row > 0].tolist() for b in range(0, len(texts), 1024)
                for row in vectorize(texts[b:b + 1024]).numpy()]
        return keras.utils.pad_sequences(seqs, maxlen=maxlen)
    x_train, x_val = ids(d.texts_train), ids(d.texts_test)
    y_train, y_val = d.y_train, d.y_test
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(max_features, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    times = []
    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val), callbacks=[T()], verbose=2)
    train_seconds = time.perf_counter() - start
    acc = model.evaluate(x_val, y_val, verbose=0, batch_size=256)[1]
    print(json.dumps({"accuracy": acc, "train_seconds": train_seconds, "epoch_seconds": times,
                      "params": model.count_params()}))
    """
)

OURS = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    r = pipelines.run("sentiment", seed=int(sys.argv[1]), out=tempfile.mkdtemp(), verbose=2, **json.loads(sys.argv[2]))
    m = r.metrics
    print(json.dumps({"accuracy": m.get("accuracy"), "train_seconds": r.report["timings"]["train_seconds"],
                      "epoch_seconds": r.history.get("epoch_seconds"), "params": r.model.count_params(), "metrics": m,
                      "refit_seconds": r.report["timings"].get("refit_seconds"),
                      "eval_seconds": r.report["timings"].get("eval_seconds"),
                      "snapshots": r.config.snapshot_ensemble and len(r.history.get("loss", [])) > 1,
                      "baseline_seconds": r.report["timings"].get("baseline_seconds")}))
    """
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _epochs(seconds: list[float] | None) -> str:
    return ", ".join(f"{s:.0f}" for s in seconds or [])


def imdb(seed: int, write: bool) -> None:
    ours = run_script(OURS, str(seed), "{}")
    print("ours", ours, flush=True)
    keras_side = run_script(KERAS_EXAMPLE, str(seed))
    print("keras", keras_side, flush=True)
    m = ours["metrics"]
    snapshots, n_epochs = ours.get("snapshots", False), len(ours["epoch_seconds"] or [1])
    refit = ours.get("refit_seconds")
    label = "validated run, then refit on all 25k" if refit else "one run"
    label += ", mean of its epoch snapshots" if snapshots else ""
    train = f"{ours['train_seconds']:.0f}" + (f" + {refit:.0f} refit" if refit else "")
    # The validated run's epochs see 90 % of the training texts; the refit's mean includes its vectorizer's adapt.
    per_epoch = _epochs(ours["epoch_seconds"]) + (f" (refit: {refit / n_epochs:.0f} mean)" if refit else "")
    rows = [
        [
            "Keras bidirectional_lstm_imdb (2 x BiLSTM64, maxlen 200, batch 32, 2 epochs)",
            _pct(keras_side["accuracy"]),
            f"{keras_side['train_seconds']:.0f}",
            _epochs(keras_side["epoch_seconds"]),
            f"{keras_side['params']:,}",
        ],
        [
            f"keras-pipelines `sentiment` RNN (defaults: {label})",
            _pct(m["accuracy"]),
            train,
            per_epoch,
            f"{ours['params']:,}" + (f" ({n_epochs} x {ours['params'] // n_epochs:,})" if snapshots else ""),
        ],
        [
            "TF-IDF 1-2-gram + logistic regression (same run)",
            _pct(m.get("baseline_accuracy")),
            f"{ours['baseline_seconds']:.0f} (fitted twice)",
            "",
            "",
        ],
        [
            f"ensemble (RNN weight {m['ensemble_weight']:.2f})" if "ensemble_weight" in m else "ensemble",
            _pct(m.get("ensemble_accuracy")),
            "",
            "",
            "",
        ],
    ]
    table = markdown_table(["model", "test accuracy (25k)", "train seconds", "seconds per epoch", "parameters"], rows)
    table += (
        f"\n\nRNN ROC AUC {m['roc_auc']:.4f}, baseline {m.get('baseline_roc_auc', float('nan')):.4f}, "
        f"ensemble {m.get('ensemble_roc_auc', float('nan')):.4f}. Our test predictions took "
        f"{ours.get('eval_seconds') or float('nan'):.0f} s (the Keras side evaluates inside its epochs)."
    )
    print(table)
    if write:
        append_section("Sentiment (IMDB): `sentiment` pipeline vs Keras bidirectional_lstm_imdb", table)


def mr(seed: int, write: bool) -> None:
    # From random weights, and fine-tuned from the kept IMDB model (the package's
    # models/sentiment_imdb.keras, trained once by a default IMDB run if missing). No refit:
    # the cross-validated accuracy is what is measured.
    variants = {"from random weights": {}, "fine-tuned from the IMDB model (init_from='imdb')": {"init_from": "imdb"}}
    runs = {}
    for name, overrides in variants.items():
        runs[name] = run_script(OURS, str(seed), json.dumps({"dataset": "mr", "refit": False, **overrides}))
        print(name, runs[name]["metrics"], flush=True)
    rows = []
    for name, ours in runs.items():
        m = ours["metrics"]
        rows.append(
            [
                f"RNN, {name}",
                f"{100 * m['cv_accuracy_mean']:.2f} %",
                f"{100 * m['cv_accuracy_std']:.2f}",
                f"{ours['train_seconds']:.0f}",
            ]
        )
        rows.append(
            [
                f"ensemble with the baseline, {name}",
                f"{100 * m['ensemble_cv_accuracy_mean']:.2f} %",
                f"{100 * m['ensemble_cv_accuracy_std']:.2f}",
                "",
            ]
        )
    m = next(iter(runs.values()))["metrics"]
    rows.append(
        [
            "TF-IDF 1-2-gram + logistic regression",
            f"{100 * m['baseline_cv_accuracy_mean']:.2f} %",
            f"{100 * m['baseline_cv_accuracy_std']:.2f}",
            "",
        ]
    )
    table = markdown_table(
        ["model", "10-fold CV accuracy (mean)", "std (points)", "RNN train seconds (10 folds)"], rows
    )
    table += (
        "\n\nThe same stratified folds for every row; each fold's vectorizer (from scratch), RNN and "
        "baseline see the other nine folds only. The IMDB model's vocabulary was fitted on IMDB's "
        "training reviews."
    )
    print(table)
    if write:
        append_section("Sentiment (MR, 10-fold CV): `sentiment` pipeline", table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mr", action="store_true", help="run the MR 10-fold evaluation instead of IMDB")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding sentiment/")
    (mr if args.mr else imdb)(args.seed, not args.no_write)


if __name__ == "__main__":
    main()
