"""The sanity mode (`overfit_batches=N`): can the model memorize a few training batches?

The first debugging step every course teaches: a net that cannot drive its loss down on
a handful of examples has a bug (broken labels, a dead activation, a learning rate that
does nothing), and no amount of data will fix it. `fit_few_batches` trains on the first
N batches of the training input only, for as many optimizer steps as the real run would
take (so the learning-rate schedule is the run's), stops once they are memorized, and
writes the verdict, which the runner adds to the report.

A model memorized the batches when, scored in inference mode on exactly those batches,
its accuracy is at least 0.99 (classifiers), or its mean squared error (else its loss)
fell to at most a tenth of what it was before training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras

from pipelines.atomic import write_text

__all__ = ["fit_few_batches", "add_verdict", "memorized", "VERDICT_FILE", "MEMORIZED_ACCURACY", "MEMORIZED_SHARE"]

VERDICT_FILE = "overfit.json"
MEMORIZED_ACCURACY = 0.99
MEMORIZED_SHARE = 0.1


class _StopWhenMemorized(keras.callbacks.Callback):
    """Scores the batches in inference mode after each pass, and stops once they are memorized.

    Inference mode, not the training logs: dropout is off, and batch normalization uses its
    moving statistics, which lag the weights for many steps on so few batches.
    """

    def __init__(self, batches: Any, before: dict[str, float]) -> None:
        super().__init__()
        self._batches = batches
        self._before = before
        self.scores = before

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.scores = self.model.evaluate(self._batches, return_dict=True, verbose=0)
        self.model.stop_training = memorized(self._before, self.scores)[1]


def memorized(before: dict[str, float], after: dict[str, float]) -> tuple[str, bool]:
    """The score that judges memorization, and whether `after` meets it."""
    if "accuracy" in after:
        return "accuracy", after["accuracy"] >= MEMORIZED_ACCURACY
    judged = "mse" if "mse" in after else "loss"
    return judged, after[judged] <= MEMORIZED_SHARE * before[judged]


def fit_few_batches(
    model: keras.Model,
    train_ds: Any,
    run_dir: Path,
    *,
    batches: int,
    epochs: int,
    verbose: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    class_weight: dict[int, float] | None = None,
) -> dict[str, list[float]]:
    """Trains `model` on the first `batches` batches of `train_ds` and writes the verdict.

    Args:
        batches: How many batches to memorize.
        epochs: The run's epochs: the optimizer takes the steps the full run would take,
            `epochs` times the batches in `train_ds`, in passes over the few batches.
        callbacks: The run's own callbacks (its input seeds, its time budget, ...); no
            checkpoint, early stopping or backup (there is no validation split).

    Returns:
        The per-pass history.
    """
    few = train_ds.take(batches).cache()  # the same batches, augmented and corrupted once, every pass
    per_epoch = int(train_ds.cardinality())
    passes = max(1, epochs * per_epoch // batches) if per_epoch > 0 else epochs
    before = model.evaluate(few, return_dict=True, verbose=0)
    check = _StopWhenMemorized(few, before)
    history = model.fit(
        few,
        epochs=passes,
        callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks, check],
        verbose=verbose,
        shuffle=False,
        class_weight=class_weight,
    )
    after = check.scores
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    judged, learned = memorized(before, after)
    verdict = {
        "batches": batches,
        "passes": len(logs.get("loss", [])),
        "judged_by": judged,
        "before": float(before[judged]),
        "after": float(after[judged]),
        "memorized": bool(learned),
    }
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    write_text(Path(run_dir) / VERDICT_FILE, json.dumps(verdict, indent=2))
    return logs


def add_verdict(report: Any, run_dir: Path) -> None:
    """Adds the sanity mode's verdicts, if the run wrote any, to the report's metrics and text.

    A cross-validated run trains once per fold (`folds/<k>/`): it memorized the batches if
    every fold's model did, and the scores are the folds' means.
    """
    run_dir = Path(run_dir)
    paths = sorted(run_dir.rglob(VERDICT_FILE))
    if not paths:
        return
    verdicts = [json.loads(path.read_text(encoding="utf-8")) for path in paths]
    judged = verdicts[0]["judged_by"]
    every = all(v["memorized"] for v in verdicts)
    report.add_metrics(
        {
            "overfit_memorized": float(every),
            f"overfit_{judged}_before": sum(v["before"] for v in verdicts) / len(verdicts),
            f"overfit_{judged}_after": sum(v["after"] for v in verdicts) / len(verdicts),
        }
    )
    rule = (
        f"accuracy at least {MEMORIZED_ACCURACY}"
        if judged == "accuracy"
        else f"{judged} at most {MEMORIZED_SHARE:g} of its value before training"
    )
    lines = [
        f"- {'the model' if path.parent == run_dir else path.parent.relative_to(run_dir).as_posix()}: "
        f"{'memorized' if v['memorized'] else '**did not** memorize'} them in {v['passes']} passes, "
        f"{judged} {v['before']:.4g} before training, {v['after']:.4g} after"
        for path, v in zip(paths, verdicts)
    ]
    report.add_text(
        "Sanity check: memorizing a few batches",
        f"Trained on the first {verdicts[0]['batches']} training batches only, the model "
        f"{'memorized them' if every else '**did not** memorize them'} "
        f"(scored in inference mode on those batches; memorized: {rule}). The test metrics are those "
        "of this model, which saw no other training data.\n\n" + "\n".join(lines),
    )
