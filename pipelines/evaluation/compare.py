"""Compares runs evaluated on the same test set: `pipelines compare RUN_DIR RUN_DIR...`.

Each run directory holds `report.json` and `predictions.npz` (the test labels and the
model's outputs, written by the report). The comparison report puts the headline
metrics side by side with their bootstrap 95 % intervals, overlays the curves, and tests
each run against the first on the same test items:

- classification: McNemar's exact test on the discordant pairs (one run right, the other
  wrong: a two-sided binomial test of `b` successes in `b + c` trials at 1/2, with
  `scipy.stats.binomtest`, not the chi-square approximation), and a paired bootstrap of
  the AUC difference (the report's macro one-vs-rest AUC; for two classes the AUC of
  class 1). The overlaid ROC and PR curves are each run's macro average over classes
  (class 1's curve for two classes), as in the run's own report.
- regression: a paired bootstrap of the difference in R^2 of the out-of-fold predictions.
- denoising: a paired bootstrap of the difference in mean per-image PSNR.

Runs whose test sets differ (another dataset, size, labels or inputs) are refused with a
`ComparisonError`: a paired test of different items means nothing.

Usage (two finished runs of one pipeline):

    compare_runs(["reports/mnist/a", "reports/mnist/b"], "reports/compare/ab")
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from pipelines.errors import ComparisonError
from pipelines.evaluation import bootstrap as bs
from pipelines.evaluation import plots
from pipelines.evaluation.report import PREDICTIONS_FILE, Link, Report

__all__ = [
    "RunRecord",
    "load_run",
    "check_same_test_set",
    "mcnemar_test",
    "compare_runs",
    "overlay_figure",
    "HEADLINES",
]

# Per kind: the metrics compared, each with its batched statistic built from the arrays.
HEADLINES: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "f1_macro", "roc_auc_ovr_macro"),
    "regression": ("r2",),
    "denoising": ("psnr_denoised",),
}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One run as the comparison sees it.

    Attributes:
        run_dir: The run directory.
        name: A short label: the directory name, made unique among the runs compared.
        report: The run's `report.json`.
        kind: `"classification"`, `"regression"` or `"denoising"`.
        arrays: The arrays of `predictions.npz`.
    """

    run_dir: Path
    name: str
    report: dict[str, Any]
    kind: str
    arrays: dict[str, np.ndarray]


def load_run(run_dir: str | os.PathLike, name: str | None = None) -> RunRecord:
    """Reads a run directory's `report.json` and `predictions.npz`.

    Raises:
        ComparisonError: A file is missing or unreadable, or the kind is unknown.
    """
    run_dir = Path(run_dir)
    report_path, npz_path = run_dir / "report.json", run_dir / PREDICTIONS_FILE
    if not report_path.is_file():
        raise ComparisonError(
            f"expected a run directory holding report.json. Received: {str(run_dir)!r}. "
            "Pass the --out directory of a run."
        )
    if not npz_path.is_file():
        raise ComparisonError(
            f"expected {PREDICTIONS_FILE} in {str(run_dir)!r}. Received a run without saved "
            "test-set predictions: made before comparisons existed (re-run, or re-evaluate its "
            "model with `pipelines evaluate`), or of a pipeline that saves none."
        )
    try:
        report = json.loads(report_path.read_text())
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise ComparisonError(f"cannot read the run in {str(run_dir)!r}: {exc}") from exc
    kind = str(arrays.get("kind", ""))
    if kind not in HEADLINES:
        raise ComparisonError(
            f"expected predictions of kind {sorted(HEADLINES)}. Received: {kind!r} in {str(npz_path)!r}."
        )
    return RunRecord(run_dir, name or run_dir.name, report, kind, arrays)


def check_same_test_set(runs: Sequence[RunRecord]) -> None:
    """Refuses runs that were not evaluated on the very same test items.

    Checks the kind, the dataset name, the number of items, the labels (or targets) item
    by item, and the fingerprint of the test inputs saved with the predictions.

    Raises:
        ComparisonError: Names the first run that differs from the first one, and how.
    """
    first = runs[0]
    for run in runs[1:]:
        checks = [
            ("kind", first.kind, run.kind),
            ("dataset", first.report.get("dataset", {}).get("name"), run.report.get("dataset", {}).get("name")),
            ("test size", len(first.arrays["y_true"]), len(run.arrays["y_true"])),
        ]
        for what, a, b in checks:
            if a != b:
                raise ComparisonError(
                    f"expected runs on the same test set. Received: {what} {a!r} in "
                    f"{str(first.run_dir)!r} but {b!r} in {str(run.run_dir)!r}."
                )
        if not np.array_equal(first.arrays["y_true"], run.arrays["y_true"]):
            raise ComparisonError(
                f"expected runs on the same test set. Received: the test labels of "
                f"{str(run.run_dir)!r} differ from those of {str(first.run_dir)!r} "
                "(another split, subset or order)."
            )
        if str(first.arrays["fingerprint"]) != str(run.arrays["fingerprint"]):
            raise ComparisonError(
                f"expected runs on the same test set. Received: the test inputs of "
                f"{str(run.run_dir)!r} differ from those of {str(first.run_dir)!r} "
                "(same labels, other inputs: another noise seed or preprocessing)."
            )


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, float]:
    """McNemar's exact test of equal accuracy on paired predictions.

    Only the discordant items count: `b` (A right, B wrong) and `c` (A wrong, B right).
    Under equal accuracy `b ~ Binomial(b + c, 1/2)`; the p-value is the two-sided exact
    binomial one (`scipy.stats.binomtest`), 1 when there is no discordant pair.

    Example:
        >>> a = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
        >>> b = np.array([0, 0, 0, 0, 0, 0, 0, 1, 0, 1], bool)
        >>> r = mcnemar_test(a, b)
        >>> r["a_only"], r["b_only"], round(r["p_value"], 4)
        (7, 1, 0.0703)
    """
    a_only = int(np.sum(correct_a & ~correct_b))
    b_only = int(np.sum(~correct_a & correct_b))
    p = 1.0 if a_only + b_only == 0 else float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)
    return {"a_only": a_only, "b_only": b_only, "p_value": p}


def compare_runs(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Writes the comparison report of `run_dirs` (the first is the reference) into `out`.

    Args:
        run_dirs: Two or more run directories, evaluated on the same test set.
        out: The output directory, created if missing.

    Returns:
        The path of the comparison's `report.html`.

    Raises:
        ComparisonError: Fewer than two runs, a run without predictions, or different
            test sets.
        OutputDirError: `out` cannot be written.
    """
    if len(run_dirs) < 2:
        raise ComparisonError(f"expected at least two run directories. Received: {len(run_dirs)}.")
    runs = [load_run(path, name) for path, name in zip(run_dirs, _unique_names(run_dirs))]
    check_same_test_set(runs)
    kind, n = runs[0].kind, len(runs[0].arrays["y_true"])
    report = Report("comparison", dataset={**runs[0].report.get("dataset", {}), "compared_items": n})
    report.title = f"Comparison of {len(runs)} {runs[0].report.get('pipeline', '')} runs".replace("  ", " ")
    report.extra["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    report.extra.update(kind=kind, runs=[str(r.run_dir.resolve()) for r in runs], headline_metric=None)

    statistics = {r.name: _statistics(r) for r in runs}
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run": Link(run.name, _href(run.run_dir, Path(out))),
            "pipeline": run.report.get("pipeline"),
            "seed": run.report.get("config", {}).get("seed"),
        }
        intervals = bs.bootstrap_many(statistics[run.name], n)
        for metric, interval in intervals.items():
            row[metric] = interval.estimate
            row[f"{metric} 95% CI"] = f"[{interval.low:.4f}, {interval.high:.4f}]"
        rows.append(row)
    report.add_table(
        "Metrics side by side",
        rows,
        note=f"On the same {n:,} test items; percentile bootstrap "
        f"intervals over {bs.N_RESAMPLES:,} resamples (seed 0, the same resamples for every run).",
    )
    report.add_table(
        f"Paired tests against {runs[0].name}", _paired_rows(runs, statistics, n), note=_PAIRED_NOTES[kind]
    )
    if kind == "classification":
        for curve, title in (("roc", "ROC curves"), ("pr", "Precision-recall curves")):
            report.add_figure(
                f"{curve}_overlay",
                overlay_figure(runs, curve),
                title=title,
                caption="Each run's macro-average curve over the one-vs-rest classes (class 1's "
                "curve for two classes); the legend gives the run's macro AUC or AP.",
            )
    paths = report.write(out)
    return paths["report.html"]


# --------------------------------------------------------------------------- internals

_PAIRED_NOTES = {
    "classification": "McNemar: exact two-sided binomial test on the discordant items (reference right and "
    "other wrong, or the reverse), scipy.stats.binomtest. AUC: paired bootstrap of the difference "
    "(other minus reference) in macro one-vs-rest ROC AUC over 1,000 shared resamples; p-value "
    "2 min(P(d <= 0), P(d >= 0)).",
    "regression": "Paired bootstrap of the difference (other minus reference) in R^2 over 1,000 shared resamples; "
    "p-value 2 min(P(d <= 0), P(d >= 0)).",
    "denoising": "Paired bootstrap of the difference (other minus reference) in mean per-image PSNR over 1,000 "
    "shared resamples; p-value 2 min(P(d <= 0), P(d >= 0)).",
}


def _statistics(run: RunRecord) -> dict[str, bs.Statistic]:
    a = run.arrays
    if run.kind == "classification":
        y, proba = a["y_true"], a["proba"]
        pred = proba.argmax(axis=1)
        return {
            "accuracy": bs.accuracy_stat(y, pred),
            "f1_macro": bs.f1_macro_stat(y, pred, proba.shape[1]),
            "roc_auc_ovr_macro": bs.roc_auc_macro_stat(y, proba),
        }
    if run.kind == "regression":
        return {"r2": bs.r2_stat(a["y_true"], a["y_pred"])}
    return {"psnr_denoised": bs.mean_stat(a["psnr_denoised"])}


def _paired_rows(runs: Sequence[RunRecord], statistics: dict, n: int) -> list[dict[str, Any]]:
    reference, rows = runs[0], []
    for run in runs[1:]:
        row: dict[str, Any] = {"run": run.name}
        if run.kind == "classification":
            y = reference.arrays["y_true"]
            test = mcnemar_test(reference.arrays["proba"].argmax(1) == y, run.arrays["proba"].argmax(1) == y)
            row.update(
                {
                    "only reference right": test["a_only"],
                    "only this run right": test["b_only"],
                    "McNemar p": test["p_value"],
                }
            )
        metric = HEADLINES[run.kind][-1]  # AUC, R^2 or PSNR
        diff, p = bs.paired_bootstrap(statistics[reference.name][metric], statistics[run.name][metric], n)
        row.update(
            {f"{metric} difference": diff.estimate, "95% CI": f"[{diff.low:.4f}, {diff.high:.4f}]", "bootstrap p": p}
        )
        rows.append(row)
    return rows


def overlay_figure(runs: Sequence[RunRecord], kind: str) -> Figure:
    """Overlays each classification run's ROC (`kind="roc"`) or PR (`"pr"`) curve, labeled by run.

    The curve is `plots.average_curve`: the macro average over one-vs-rest classes, or
    class 1's curve for two classes.
    """
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    scores, lowest = [], []
    left = 1.0 / len(runs[0].arrays["y_true"])
    for run in runs:
        x, y, score = plots.average_curve(run.arrays["y_true"], run.arrays["proba"], kind=kind)
        scores.append(score)
        lowest.append(float(np.interp(left, x, y)) if kind == "roc" else 0.0)
        label = f"{run.name} ({'AUC' if kind == 'roc' else 'AP'} = {score:.4f})"
        ax.plot(x, y, lw=1.5, label=label, drawstyle="steps-post" if kind == "pr" else "default")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
    else:
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
    ax.set_title(f"{'ROC' if kind == 'roc' else 'Precision-recall'}: {len(runs)} runs")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    if kind == "roc" and min(scores) > 0.99:
        # Near-perfect curves hug the corner on a linear axis; a log FPR axis shows where
        # they differ, down to one false positive among the test items (as in the run reports).
        ax.set_xscale("log")
        ax.set_xlim(1.0 / len(runs[0].arrays["y_true"]), 1.0)
        ax.set_ylim(max(0.0, min(lowest) - 0.01), 1.002)
        ax.set_xlabel("False positive rate (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if kind == "roc" else "lower left", fontsize="x-small")
    return fig


def _unique_names(run_dirs: Sequence[str | os.PathLike]) -> list[str]:
    names: list[str] = []
    for path in run_dirs:
        path = Path(path).resolve()
        name = path.name
        if name in names:  # reports/mnist/x and reports/vit/x: add the parent
            name = f"{path.parent.name}/{path.name}"
        while name in names:
            name += "'"
        names.append(name)
    return names


def _href(run_dir: Path, out: Path) -> str:
    return os.path.relpath((run_dir / "report.html").resolve(), out.resolve())
