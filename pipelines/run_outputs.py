"""What a run writes and says besides its report: the model file, the model card, links to the
run's files, the environment it ran in, the report of a diverged run, and its last lines.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.config import config_to_dict
from pipelines.errors import TrainingDivergedError

__all__ = [
    "write_failed_report",
    "environment",
    "save_model",
    "write_model_card",
    "now",
    "add_links",
    "print_done",
]


def write_failed_report(report: Any, run_dir: Path, error: TrainingDivergedError, seconds: float) -> None:
    """Writes the report of a diverged run, marked failed, beside its best checkpoint."""
    from pipelines.training import BEST_CHECKPOINT

    best = run_dir / BEST_CHECKPOINT
    report.status = "failed"
    report.history = report.history or error.history
    report.timings["total_seconds"] = seconds
    report.extra["error"] = {"type": type(error).__name__, "message": str(error)}
    report.extra["last_good_checkpoint"] = str(best) if best.is_file() else None
    report.write(run_dir)


def environment(config: Any, placement: Mapping[str, Any]) -> dict[str, Any]:
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        **placement,
        "precision_policy": keras.config.dtype_policy().name,
        # What the train step really used: several replicas run without XLA (training.jit_compile_for).
        "jit_compile": bool(config.jit_compile) and placement.get("replicas", 1) == 1,
        "op_determinism": bool(config.deterministic),
        "seed": config.seed,
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
    }


def save_model(model: Any, path: Path) -> None:
    from pipelines.atomic import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)


def write_model_card(run_dir: Path, pipeline: str, config: Any, report: Any, extra: Mapping[str, Any]) -> None:
    from pipelines.atomic import write_text

    card = {
        "pipeline": pipeline,
        "created": now(),
        "file": "model.keras",
        "load_with": "keras.saving.load_model(path, safe_mode=True)",
        **dict(extra),
        "dataset": report.dataset,
        "metrics": report.metrics,
        "config": config_to_dict(config),
        "environment": {k: report.environment.get(k) for k in ("python", "tensorflow", "keras")},
    }
    write_text(run_dir / "model_card.json", json.dumps(card, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def add_links(report: Any, run_dir: Path) -> None:
    """Links the run's other outputs (TensorBoard logs, model, card) from the report."""
    from pipelines.evaluation.report import Link

    rows = []
    logs = run_dir / "tensorboard"
    if logs.is_dir():
        # Relative, so the link survives moving the run directory; the command needs the absolute path.
        rows.append(
            {
                "what": "TensorBoard logs",
                "link": Link("tensorboard/", "tensorboard/"),
                "open with": f"tensorboard --logdir {logs.resolve()}",
            }
        )
        report.extra["tensorboard_logdir"] = str(logs.resolve())
    for name, what in (
        ("model.keras", "Saved model"),
        ("model_card.json", "Model card"),
        ("predictions.npz", "Test-set predictions (for `pipelines compare`)"),
    ):
        if (run_dir / name).is_file() or (name == "predictions.npz" and "predictions" in report.extra):
            rows.append({"what": what, "link": Link(name, name), "open with": ""})
    if rows:
        report.add_table("Files of this run", rows, note="Paths relative to this report's folder.")


def print_done(config: Any, run_dir: Path, metrics: Mapping[str, float | None]) -> None:
    """Ends a verbose run with its headline metrics and, last, the path of its HTML report."""
    if not config.verbose:
        return
    headline = [(k, v) for k, v in metrics.items() if "class_" not in k and "_ci_" not in k and v is not None]
    if headline:
        print("  ".join(f"{k}={v:.4f}" for k, v in headline[:6]), flush=True)
    print(f"Report: {(run_dir / 'report.html').resolve()}", flush=True)
