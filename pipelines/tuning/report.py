"""A study's report: `DIR/report.{html,md,json}` and `DIR/tune.json`.

The best configuration and its final run first (linked), then the optimization history
and the parameter importances (Optuna's matplotlib plots), then every trial with a link
to its run's report.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from pipelines import atomic
from pipelines.evaluation.report import Report
from pipelines.evaluation.report.records import Link

__all__ = ["write_study_report", "TUNE_JSON"]

TUNE_JSON = "tune.json"


def write_study_report(study: Any, result: Any, record: dict[str, Any]) -> None:
    """Writes the study's report and `tune.json` into `result.study_dir` (each file atomically)."""
    metric, direction = result.metric
    report = Report(f"{record['pipeline']}-tune", config=record)
    report.title = f"{record['pipeline']} tuning study"
    report.add_metrics({f"best_{metric}": result.best_value})
    report.add_metrics({f"final_{k}": v for k, v in result.best_metrics.items() if isinstance(v, (int, float))})
    best = ", ".join(f"{k}={v!r}" for k, v in result.best_params.items())
    final = f"{result.best_run_dir.name}/report.html"
    states = [row["state"] for row in result.trials]
    report.add_text(
        "Summary",
        f"{len(states)} trials ({states.count('complete')} complete, {states.count('fail')} failed, "
        f"{states.count('pruned')} pruned), {direction} {metric}. Best: {metric} = {result.best_value:.6g} with "
        f"{best}. The best configuration was run again with the test evaluation on: see {final}.",
    )
    report.add_table(
        "Best configuration's final run",
        [{"run": Link(final, final), **_shown(result.best_params)}],
    )
    for name, plot in _plots(study):
        report.add_figure(name, plot, title=name.replace("_", " ").capitalize())
    report.add_table(
        "Trials",
        [
            {
                "trial": row["number"],
                "state": row["state"],
                metric: "" if row["value"] is None else f"{row['value']:.6g}",
                **_shown(row["params"]),
                "seconds": "" if row["seconds"] is None else f"{row['seconds']:.1f}",
                "process": row["worker"] or "",
                "note": _note(row),
                "run": Link(f"{row['run_dir']}/report.html", row["run_dir"]) if row["run_dir"] else "",
            }
            for row in result.trials
        ],
    )
    report.write(result.study_dir)
    summary = {
        **record,
        "best_params": {k: list(v) if isinstance(v, tuple) else v for k, v in result.best_params.items()},
        "best_value": result.best_value,
        "best_run": result.best_run_dir.name,
        "best_metrics": result.best_metrics,
        "trials": result.trials,
    }
    atomic.write_text(result.study_dir / TUNE_JSON, json.dumps(summary, indent=2) + "\n")


def _note(row: dict[str, Any]) -> str:
    if row["defaults"] and row["state"] == "complete":
        return "the untuned configuration"
    if row["error"]:
        return row["error"][:200]
    return "its process stopped mid-trial; tried again" if row["state"] == "fail" else ""


def _shown(params: dict[str, Any]) -> dict[str, str]:
    return {key: repr(value) for key, value in params.items()}


def _plots(study: Any) -> list[tuple[str, Any]]:
    """Optuna's optimization history and parameter importances, when the study can draw them."""
    import optuna  # its plots draw with pyplot, on whatever backend the caller has (Agg without a display)

    plots = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        for name, draw in (
            ("optimization_history", optuna.visualization.matplotlib.plot_optimization_history),
            ("param_importances", optuna.visualization.matplotlib.plot_param_importances),
        ):
            try:
                axes = draw(study)
            except (ValueError, RuntimeError):  # e.g. importances need two complete trials
                continue
            figure = axes.get_figure(root=True)
            if figure is None:
                continue
            figure.set_size_inches(7, 4)
            figure.tight_layout()
            plots.append((name, figure))
    return plots
