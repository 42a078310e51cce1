"""Advertising: our default pipeline against OLS, gradient boosting and random forest.

Every model is scored on ISLR's Advertising.csv (from PIPELINES_DATA_DIR) with the same
split as the pipeline: scikit-learn's `KFold(10, shuffle=True, random_state=seed)`,
seed 1337 by default. Reported: mean and sample standard deviation over the 10 folds of
each held-out fold's R^2, RMSE and MAE, and the wall time of the 10 fits. The MLP and the
Keras linear model come from one default `pipelines.run("advertising")`, whose
`total_seconds` (data, both Keras models, OLS, evaluation and figures; the runner
measures it before writing the model and the report files) is printed too.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/advertising.py [--seed 1337]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table  # noqa: E402

import pipelines  # noqa: E402
from pipelines.baselines.ols import ols_oof  # noqa: E402
from pipelines.evaluation.regression import cv_metrics  # noqa: E402
from pipelines.inputs.splits import kfold_ids  # noqa: E402
from pipelines.recipes.fold_regression import load_table  # noqa: E402


def _sklearn_oof(make, x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
    oof = np.empty(len(y))
    for k in np.unique(ids):
        held_out = ids == k
        oof[held_out] = make().fit(x[~held_out], y[~held_out]).predict(x[held_out])
    return oof


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1337, help="KFold shuffle seed (the pipeline's seed)")
    args = parser.parse_args()

    config = pipelines.get_config("advertising", seed=args.seed, verbose=0)
    data, _ = load_table(config)
    x, y, features = data.x, data.y, list(data.features)
    ids = kfold_ids(len(y), config.folds, args.seed)

    rows = []

    def add(name: str, oof: np.ndarray, seconds: float) -> None:
        m = cv_metrics(y, oof, ids)
        rows.append(
            [
                name,
                f"{m['cv_r2_mean']:.4f}",
                f"{m['cv_r2_std']:.4f}",
                f"{m['cv_rmse_mean']:.3f}",
                f"{m['cv_rmse_std']:.3f}",
                f"{m['cv_mae_mean']:.3f}",
                f"{seconds:.2f}",
            ]
        )

    add("OLS (TV, radio, newspaper)", *_timed(lambda: ols_oof(x, y, ids, features)))
    add("OLS + TV:radio", *_timed(lambda: ols_oof(x, y, ids, features, [("TV", "radio")])))
    add(
        "gradient boosting (sklearn defaults)",
        *_timed(lambda: _sklearn_oof(lambda: GradientBoostingRegressor(random_state=0), x, y, ids)),
    )
    add(
        "random forest (sklearn defaults, 100 trees)",
        *_timed(lambda: _sklearn_oof(lambda: RandomForestRegressor(random_state=0, n_jobs=1), x, y, ids)),
    )

    with tempfile.TemporaryDirectory() as out:
        result = pipelines.run("advertising", seed=args.seed, out=out, verbose=0)
    table = result.report["tables"][f"Cross-validation ({config.folds} folds)"]
    for row in table:
        if row["model"] != "OLS":  # OLS is above, computed the same way
            rows.append(
                [
                    f"{row['model']} (pipeline)",
                    f"{row['r2 mean']:.4f}",
                    f"{row['r2 std']:.4f}",
                    f"{row['rmse mean']:.3f}",
                    f"{row['rmse std']:.3f}",
                    f"{row['mae mean']:.3f}",
                    f"{row['seconds']:.2f}",
                ]
            )
    c = result.config
    body = (
        f"Advertising.csv (200 rows), `KFold({config.folds}, shuffle=True, random_state={args.seed})`, "
        "the same folds for every model; per-fold R^2, RMSE, MAE on the held-out fold, mean and sample std "
        "over folds. Seconds: wall time of all folds (for the Keras models: the one fit that trains every "
        "fold plus the all-rows model).\n\n"
        + markdown_table(["model", "R^2 mean", "R^2 std", "RMSE mean", "RMSE std", "MAE mean", "seconds"], rows)
        + f"\n\nMLP: widths {list(c.widths)}, {c.activation}, input noise {c.input_noise}, {c.epochs} full-batch "
        f"Adam steps (lr {c.learning_rate}, cosine), {c.steps_per_execution} steps per compiled call. "
        f'Whole default run (`pipelines.run("advertising")` total_seconds: data, both Keras models, OLS, '
        f"evaluation and figures, before the files are written): {result.report['timings']['total_seconds']:.1f} s."
    )
    append_section("Advertising: 10-fold cross-validated regression", body)


if __name__ == "__main__":
    main()
