"""The advertising pipeline's data and training stages: the validated table, and the K fold
members plus the all-rows member of one Keras model trained in a single `fit`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from pipelines.errors import TrainingDivergedError
from pipelines.evaluation.regressor_report import threshold_labels
from pipelines.gradient_norms import GradientNorms
from pipelines.inputs.sources import resolve_dataset
from pipelines.inputs.splits import fold_train_mask
from pipelines.inputs.tabular import TabularData, make_fold_dataset, read_csv, validate_frame
from pipelines.nets.mlp import extract_member, make_fold_mlp
from pipelines.training import compile_scope, make_optimizer, schedule_of

if TYPE_CHECKING:
    from pipelines.runner import RunContext
    from pipelines.tasks.advertising import AdvertisingConfig

__all__ = ["load_table", "view_threshold", "fit_folds"]


def load_table(config: AdvertisingConfig, given: TabularData | None = None) -> tuple[TabularData, dict[str, Any]]:
    """Reads and validates the data (or takes `given`, already validated data passed in memory).

    Every data error is raised here, before any model exists.
    """
    if given is not None:
        path, info = Path(str(config.csv)), {"name": "DataFrame", "source": "in memory", "checksum_verified": False}
        data = given
    elif config.csv is None:
        found = resolve_dataset("advertising", config.data_dir)
        path, info = (
            found.files["Advertising.csv"],
            {"name": "advertising", "source": found.source, "checksum_verified": found.checksum_verified},
        )
    else:
        path, info = Path(config.csv), {"name": Path(config.csv).name, "source": "csv", "checksum_verified": False}
    if given is None:
        data = validate_frame(
            read_csv(path),
            config.features,
            config.target,
            min_rows=config.folds,
            with_budget_check=config.with_budget_check,
        )
    if config.max_train_samples is not None:
        keep = slice(config.max_train_samples)
        data = TabularData(data.x[keep], data.y[keep], data.features, data.target)
    info.update(path=str(path), rows=len(data.y), features=list(data.features), target=data.target)
    return data, info


def view_threshold(config: AdvertisingConfig, y: np.ndarray) -> float:
    """The cut of the classification view `target > threshold` (the median by default), checked.

    Raises:
        DataValidationError: Every row falls on one side of it (e.g. a constant target).
    """
    threshold = float(np.median(y)) if config.threshold is None else config.threshold
    threshold_labels(y, threshold)
    return threshold


def fit_folds(
    config: AdvertisingConfig, data: TabularData, fold_ids: np.ndarray, ctx: RunContext, *, linear: bool = False
) -> tuple[np.ndarray, keras.Model, dict[str, list[float]], float]:
    """Trains the K fold members and the all-rows member of the MLP (or linear model) at once.

    Returns:
        Out-of-fold predictions, the all-rows model, the training history and the wall time.
    """
    start = time.perf_counter()
    # The linear model is convex, so it gets its own short schedule.
    learning_rate = config.linear_learning_rate if linear else config.learning_rate
    epochs = config.linear_epochs if linear else config.epochs
    n, folds = len(data.y), int(fold_ids.max()) + 1
    mask = fold_train_mask(fold_ids)  # (n, folds + 1): the last member trains on every row
    steps_per_pass = 1 if config.batch_size is None else math.ceil(n / config.batch_size)
    total_steps = epochs * steps_per_pass
    # Steps per `fit` epoch (one history point each) stay the configured ones under any strategy;
    # only the steps per compiled call drop to 1 under several replicas. Were the epoch cut to
    # one step as well, every step would pay Keras's per-epoch cost (a new distributed
    # iterator, a validation pass): a 200-step run took 370 s instead of 23 s on a busy 2-core machine.
    per_epoch = min(config.steps_per_execution, total_steps)
    with compile_scope(ctx.strategy, jit_compile=config.jit_compile, steps_per_execution=per_epoch) as options:
        model = make_fold_mlp(
            data.x,
            data.y,
            mask,
            widths=() if linear else config.widths,
            activation=config.activation,
            input_noise=0.0 if linear else config.input_noise,
        )
        # Mean over the weighted entries: loss is the members' training MSE, val_loss the out-of-fold MSE.
        model.compile(
            optimizer=make_optimizer(
                **{**schedule_of(config), "learning_rate": learning_rate, "epochs": epochs},
                steps_per_epoch=steps_per_pass,
            ),
            loss=keras.losses.MeanSquaredError(reduction="mean_with_sample_weight"),
            **options,
        )
    train_ds = make_fold_dataset(data.x, data.y, mask, batch_size=config.batch_size, seed=config.seed)
    # Thousands of steps per `fit` epoch: the per-epoch overhead of Keras is paid a few times, not per step.
    # Steps past the schedule's end (when per_epoch does not divide it) run at learning rate 0.
    history = model.fit(
        train_ds.repeat(),
        steps_per_epoch=per_epoch,
        epochs=math.ceil(total_steps / per_epoch),
        validation_data=make_fold_dataset(data.x, data.y, ~mask),
        shuffle=False,
        callbacks=[GradientNorms(), keras.callbacks.TerminateOnNaN()],
        verbose=config.verbose,
    ).history
    if not all(math.isfinite(v) for v in history["loss"]):
        raise TrainingDivergedError(
            f"the training loss became non-finite ({history['loss'][-1]}). "
            f"Lower the learning rate (now {learning_rate})."
        )
    pred = model.predict(data.x.astype("float32"), batch_size=n, verbose=0)[:, :, 0]
    final = extract_member(model, folds, name="advertising_linear" if linear else "advertising_mlp")
    history = {key: [float(v) for v in values] for key, values in history.items()}
    return pred[np.arange(n), fold_ids], final, history, time.perf_counter() - start
