"""Advertising: sales from TV, radio and newspaper budgets with a small Keras MLP.

Task: regression of `sales` (thousands of units) on three advertising budgets
(thousands of dollars), the running example of ISLR's chapter 3.
Data: ISLR's Advertising.csv, 200 markets, checked against the manifest; or your own CSV
(`csv=`) or pandas DataFrame (`run_dataframe`), with your own `features=` and `target=`.
Metric: K-fold cross-validated R^2, RMSE and MAE (mean and std over folds) of the MLP,
a Keras linear model and closed-form OLS side by side; the OLS inference table; and the
classification view "sales > median" (ROC AUC, average precision, F1), the MLP's
out-of-fold predictions being the scores.

The K fold models and the model to deploy (trained on every row) are members of one
Keras model that trains in a single `fit` of full-batch steps, `steps_per_execution`
of them per compiled call (see `pipelines.nets.mlp`).

Usage (`frame` a pandas DataFrame with those columns):

    result = run_dataframe(frame, features=["tv", "radio"], target="sales")
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import pandas as pd

from pipelines import runner
from pipelines.baselines.ols import ols_oof, ols_predict, ols_table, parse_interactions
from pipelines.config import OptimizerSettings, RunConfig, param
from pipelines.errors import ConfigError
from pipelines.evaluation.regressor_report import (
    CVResult,
    add_fit_evaluation,
    add_ols_section,
    add_partial_dependence,
    add_regression_evaluation,
)
from pipelines.in_memory import INPUT_FILE, InMemoryData
from pipelines.inputs.splits import kfold_ids
from pipelines.inputs.tabular import validate_frame
from pipelines.models import check_model_io
from pipelines.recipes.fold_regression import fit_folds, load_table, view_threshold
from pipelines.registry import register
from pipelines.tuning.objective import TuneSpec

if TYPE_CHECKING:
    from pipelines.runner import RunContext


# A guard against typed-in zeros, like MAX_EPOCHS (the default is 4000 full-batch steps).
MAX_STEPS = 1_000_000


@dataclass
class AdvertisingConfig(OptimizerSettings, RunConfig):
    """Configuration of the `advertising` pipeline. Defaults are the measured best on 2 CPU cores."""

    csv: str | None = param(None, "CSV to read; None: ISLR's Advertising.csv via data_dir / PIPELINES_DATA_DIR.")
    features: tuple[str, ...] = param(("TV", "radio", "newspaper"), "Feature columns, in model input order.")
    target: str = param("sales", "Target column.")
    with_budget_check: bool = param(True, "Reject negative feature values (budgets); turn off for other data.")
    folds: int = param(10, "Cross-validation folds (seeded, shuffled KFold).", ge=2)
    model: str = param("mlp", "The pipeline's model: mlp, or linear (Keras Dense(1)).", choices=("mlp", "linear"))
    widths: tuple[int, ...] = param((64, 64, 64), "Hidden layer widths of the MLP.")
    activation: str = param(
        "silu",
        "Hidden activation (measured here: SiLU > GELU > tanh; GELU > ReLU).",
        choices=("silu", "gelu", "relu", "tanh"),
    )
    input_noise: float = param(0.0, "Std of training-only Gaussian noise on normalized features; 0: none.", ge=0)
    interactions: tuple[str | tuple[str, str], ...] = param(
        (), "Interaction terms of the OLS baseline: ('TV', 'radio') pairs or 'TV:radio' strings."
    )
    threshold: float | None = param(None, "Cut of the classification view target > threshold; None: median.")
    epochs: int = param(4000, "MLP passes over the training rows (full batch: one Adam step each).", ge=1, le=MAX_STEPS)
    batch_size: int | None = param(None, "Rows per optimizer step; None: full batch.", ge=1)
    steps_per_execution: int = param(500, "Optimizer steps per compiled call; one history point each.", ge=1)
    learning_rate: float = param(1e-3, "Peak learning rate of the MLP (Adam, cosine decay to 0).", gt=0)
    weight_decay: float = param(0.0, "Decoupled weight decay (AdamW); 0 means Adam.", ge=0)
    warmup_epochs: float = param(0.0, "Linear warm-up length before cosine decay, in passes.", ge=0)
    max_train_samples: int | None = param(None, "Use only the first this many rows (quick runs).", ge=1)
    linear_epochs: int = param(500, "Passes of the Keras linear model (convex: it converges fast).", ge=1, le=MAX_STEPS)
    linear_learning_rate: float = param(0.03, "Peak learning rate of the Keras linear model.", gt=0)
    jit_compile: bool = param(True, "XLA-compile the train step (fuses the activations: 2.3x faster here).")

    def validate(self) -> None:
        if not self.features or len(set(self.features)) != len(self.features) or self.target in self.features:
            raise ConfigError(
                f"expected distinct features without the target. Received: features={self.features}, "
                f"target={self.target!r}"
            )
        if self.model == "mlp" and (not self.widths or min(self.widths) < 1):
            raise ConfigError(
                f"expected positive hidden widths for the MLP. Received: widths={self.widths}. "
                "Pass e.g. widths=(64, 64), or model='linear'."
            )
        parse_interactions(self.interactions, self.features)


def check_saved(model: keras.Model, config: AdvertisingConfig) -> None:
    """`evaluate`'s check of a saved model: one row of the feature columns in, one prediction out."""
    check_model_io(model, [((len(config.features),), "float")], (1,), task="advertising")


def evaluate_saved(model: keras.Model, config: AdvertisingConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved model scored on every row of the configured data."""
    data, ctx.report.dataset = load_table(config)
    with ctx.timer("eval_seconds"):
        pred = model.predict(data.x.astype("float32"), verbose=0)[:, 0]
        add_fit_evaluation(ctx.report, data.y, pred, target=data.target)


def check_dataframe(config: AdvertisingConfig, frame: Any) -> tuple[AdvertisingConfig, InMemoryData]:
    """Checks a DataFrame passed as `run("advertising", data=frame)`, before any work.

    The run keeps the checked feature and target columns as `input.csv` beside its report,
    and its saved config reads that file (`csv=`).

    Raises:
        ConfigError: `csv=` given as well.
        DataValidationError: A missing or repeated column, a non-numeric, NaN, infinite or
            negative value, fewer rows than folds, or a target the classification view
            cannot split (e.g. constant).
    """
    if config.csv is not None:
        raise ConfigError(f"pass either a DataFrame or csv=, not both. Received: csv={config.csv!r}")
    data = validate_frame(
        frame, config.features, config.target, min_rows=config.folds, with_budget_check=config.with_budget_check
    )
    checked, _ = load_table(config, data)
    view_threshold(config, checked.y)
    table = pd.DataFrame({**dict(zip(data.features, data.x.T)), data.target: data.y})
    return config, InMemoryData(data, INPUT_FILE, table.to_csv(index=False), path_field="csv")


# `pipelines tune advertising`: the MLP's cross-validated R^2 (no test set: every row is
# held out once by the folds).
TUNE = TuneSpec(
    "cv_r2_mean",
    "maximize",
    source="metrics",
    space={
        "learning_rate": "log:3e-4:1e-2",
        "activation": "choice:silu,gelu,relu,tanh",
        "input_noise": "float:0:0.2",
        "widths": "choice:64,64,64|128,128|32,32,32,32|128,128,128",
        "epochs": "int:1000:8000",
    },
)


@register(
    "advertising",
    config=AdvertisingConfig,
    evaluate=evaluate_saved,
    check_model=check_saved,
    data=check_dataframe,
    tune=TUNE,
    summary="Regression of sales on TV, radio and newspaper budgets (Keras MLP, K-fold CV, OLS table).",
)
def train(config: AdvertisingConfig, ctx: RunContext) -> keras.Model:
    # Load and check the data, the folds and the threshold before any training.
    data, info = load_table(config, ctx.data)
    fold_ids = kfold_ids(len(data.y), config.folds, config.seed)
    threshold = view_threshold(config, data.y)
    ctx.report.dataset = {
        **info,
        "folds": config.folds,
        "fold_sizes": np.bincount(fold_ids).tolist(),
        "threshold": threshold,
    }

    # Train the pipeline's model, then the baselines, on the same folds.
    is_mlp = config.model == "mlp"
    with ctx.timer("train_seconds"):
        oof, model, history, seconds = fit_folds(config, data, fold_ids, ctx, linear=not is_mlp)
        results = [CVResult("MLP (Keras)" if is_mlp else "linear (Keras)", "", oof, seconds)]
        start = time.perf_counter()
        ols_pred = ols_oof(data.x, data.y, fold_ids, data.features, config.interactions)
        terms = "".join(f" + {a}:{b}" for a, b in parse_interactions(config.interactions, data.features))
        results.append(CVResult(f"OLS{terms}", "ols_", ols_pred, time.perf_counter() - start))
        if is_mlp:
            linear_oof, _, _, seconds = fit_folds(config, data, fold_ids, ctx, linear=True)
            results.append(CVResult("linear (Keras)", "linear_", linear_oof, seconds))

    # Evaluate: comparison table, figures, threshold view, OLS table, partial dependence.
    with ctx.timer("eval_seconds"):
        add_regression_evaluation(
            ctx.report, data.y, fold_ids, results, threshold=threshold, target=data.target, history=history
        )
        table = ols_table(data.x, data.y, data.features, config.interactions)
        add_ols_section(ctx.report, table)
        add_partial_dependence(
            ctx.report,
            {
                f"{results[0].name}, all rows": lambda a: model.predict(a, batch_size=len(a), verbose=0)[:, 0],
                "OLS, all rows": lambda a: ols_predict(table, a, data.features, config.interactions),
            },
            data.x,
            data.features,
            target=data.target,
        )
    ctx.model_card.update(
        inputs=f"float32 (n, {len(data.features)}): raw {list(data.features)} in this order (normalized inside)",
        outputs=f"(n, 1): predicted {data.target}",
        features=list(data.features),
        target=data.target,
        trained_on=f"all {len(data.y)} rows",
        parameters=int(model.count_params()),
    )
    return model


def run_dataframe(frame: Any, **overrides: Any) -> runner.RunResult:
    """Runs the pipeline on a pandas DataFrame: `run("advertising", data=frame, **overrides)`.

    The frame is checked before any work (see `check_dataframe`); the run keeps its feature
    and target columns as `input.csv` beside the report, which points at that file.

    Args:
        frame: The data, with the `features` and `target` columns.
        **overrides: Config fields, e.g. `features=["tv", "radio"], target="sales"`.

    Returns:
        The `RunResult` of `pipelines.run`.
    """
    return runner.run("advertising", data=frame, **overrides)
