"""Training controls on real data: temperature scaling on MNIST, class weights on imbalanced MR.

Calibration (`--calibration`): the `mnist` pipeline at its defaults (label smoothing 0.1)
and with label smoothing 0, each with `calibrate=temperature`. One run gives both sides:
the test set's ece and log loss of the trained net (`*_uncalibrated`) and of the same net
with its logits divided by the temperature fitted on the validation split. Temperature
scaling changes no prediction, so the accuracy is the same on both sides.

Imbalance (`--imbalance`): the MR sentences with every negative and one positive in ten
(a seeded draw), 5-fold cross-validated by the `sentiment` pipeline without and with
`class_weight=balanced`, on the same folds. Accuracy rewards answering "negative"; the
balanced accuracy (mean recall of the two classes) and the Matthews correlation do not.

Each run is a fresh process.

    python benchmarks/training_controls.py [--calibration] [--imbalance] [--seed 1]
    python benchmarks/training_controls.py --smoke     # tiny settings, printed only
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

RUN = textwrap.dedent(
    """
    import json, sys, tempfile
    import numpy as np
    import pipelines

    name, overrides = sys.argv[1], json.loads(sys.argv[2])
    data = None
    if "imbalance" in overrides:
        from pipelines.inputs.text import load_mr
        keep, seed = overrides.pop("imbalance"), overrides["seed"]
        mr = load_mr(None)
        rng = np.random.default_rng(seed)
        texts, y = np.asarray(mr.texts_train), np.asarray(mr.y_train)
        chosen = (y == 0) | (rng.random(len(y)) < keep)
        data = (list(texts[chosen]), [int(v) for v in y[chosen]])
    with tempfile.TemporaryDirectory() as out:
        result = pipelines.run(name, data=data, out=out + "/run", verbose=0, **overrides)
    sizes = {} if data is None else {"positives": int(sum(data[1])), "texts": len(data[1])}
    print(json.dumps({"metrics": result.metrics, "timings": result.report["timings"], **sizes}))
    """
)


def calibration(seed: int, smoke: bool) -> str:
    rows = []
    for smoothing in (0.1, 0.0):
        overrides = {"seed": seed, "label_smoothing": smoothing, "calibrate": "temperature"}
        if smoke:
            overrides.update(dataset="digits", epochs=2)
        m = run_script(RUN, "mnist", __import__("json").dumps(overrides))["metrics"]
        rows.append(
            [
                f"label_smoothing={smoothing}" + (" (default)" if smoothing == 0.1 else ""),
                f"{m['accuracy']:.2%}".replace("%", " %"),
                f"{m['temperature']:.3f}",
                f"{m['ece_uncalibrated']:.4f} -> **{m['ece']:.4f}**",
                f"{m['log_loss_uncalibrated']:.4f} -> **{m['log_loss']:.4f}**",
            ]
        )
        print(rows[-1], flush=True)
    return markdown_table(
        [
            "mnist run",
            "test accuracy",
            "temperature",
            "test ece: raw -> calibrated",
            "test log loss: raw -> calibrated",
        ],
        rows,
    )


def imbalance(seed: int, smoke: bool) -> str:
    rows = []
    for weight in (None, "balanced"):
        overrides = {
            "seed": seed,
            "cv_folds": 5,
            "with_baseline": False,
            "class_weight": weight,
            "imbalance": 0.1,
        }
        if smoke:
            overrides.update(cv_folds=2, epochs=1, max_train_samples=600)
        got = run_script(RUN, "sentiment", __import__("json").dumps(overrides))
        m = got["metrics"]
        rows.append(
            [
                f"class_weight={weight}",
                f"{got['texts']:,} ({got['positives']:,} positive)",
                f"{m['accuracy']:.2%}".replace("%", " %"),
                f"{m['balanced_accuracy']:.4f}",
                f"{m['mcc']:.4f}",
                f"{m['f1']:.4f}",
                f"{m['roc_auc']:.4f}",
                f"{got['timings'].get('train_seconds', 0):.0f}",
            ]
        )
        print(rows[-1], flush=True)
    return markdown_table(
        [
            "sentiment run (MR, 5-fold CV)",
            "texts",
            "accuracy",
            "balanced accuracy",
            "MCC",
            "F1 (positive)",
            "ROC AUC",
            "train s",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", action="store_true")
    parser.add_argument("--imbalance", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    both = not (args.calibration or args.imbalance)
    if args.calibration or both:
        table = calibration(args.seed, args.smoke)
        note = (
            f"Full MNIST at the pipeline's defaults (9 epochs), seed {args.seed}, one fresh process per row; "
            "each row is one run: the trained net, then the same net with its logits divided by the temperature "
            "fitted on the validation split (predictions unchanged). ECE over 15 confidence bins."
        )
        (print if args.smoke else lambda t: append_section("Calibration: temperature scaling on `mnist`", t))(
            table + "\n\n" + note
        )
    if args.imbalance or both:
        table = imbalance(args.seed, args.smoke)
        note = (
            f"MR with every negative sentence and a seeded tenth (seed {args.seed}) of the positive ones; "
            "5-fold stratified CV, the same folds on both rows, out-of-fold predictions at threshold 0.5; "
            "the RNN only (no TF-IDF ensemble)."
        )
        (print if args.smoke else lambda t: append_section("Imbalance: `class_weight` on imbalanced MR", t))(
            table + "\n\n" + note
        )


if __name__ == "__main__":
    main()
