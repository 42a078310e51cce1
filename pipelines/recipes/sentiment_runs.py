"""The two ways the `sentiment` pipeline trains and evaluates, by the shape of its data.

`train_with_test_split` (IMDB): validation on a held-out slice (by groups of related texts)
chooses the epochs, threshold and ensemble weight; the refit model is tested on the test split.
`train_cross_validated` (MR, your own texts): stratified K-fold, every text predicted out of
fold, then the model to keep is trained on all of them. `train_validation_only` (a tuning
trial, `test_evaluation=false`): one model scored on a held-out slice, neither the test split
nor the folds read. `check_texts_data` checks texts passed in memory against what the
cross-validated run needs, before it starts.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import pandas as pd

from pipelines.calibration import uncalibrated_metrics, unscaled
from pipelines.errors import ConfigError
from pipelines.evaluation.classification import best_f1_threshold
from pipelines.in_memory import INPUT_FILE, InMemoryData
from pipelines.inputs.splits import stratified_fold_ids, train_val_split
from pipelines.inputs.text import TextData, load_custom
from pipelines.inputs.text_groups import related_text_groups
from pipelines.inputs.text_vectorizer import check_has_words
from pipelines.nets.snapshots import snapshot_members
from pipelines.recipes.sentiment_report import add_sentiment_evaluation, baseline, ensemble_weight
from pipelines.recipes.text_classifier import finish, load_pretrained, predict_proba, train_rnn

if TYPE_CHECKING:
    from pipelines.runner import RunContext
    from pipelines.tasks.sentiment import SentimentConfig

__all__ = ["train_with_test_split", "train_cross_validated", "train_validation_only", "check_texts_data"]


def limit_texts(texts: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of `n` examples (the files are sorted by label: a prefix is one class)."""
    if n is None or n >= len(y):
        return texts, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return texts[keep], y[keep]


def check_texts_data(config: SentimentConfig, data: Any) -> tuple[SentimentConfig, InMemoryData]:
    """Checks `(texts, labels)` passed as `run("sentiment", data=(texts, labels))`, before any work.

    Labels are 0/1 or the two `class_names`. The run cross-validates (there is no test
    split) and keeps the texts and 0/1 labels as `input.csv` beside its report.

    Raises:
        ConfigError: `custom_csv=` or `dataset="mr"` given as well, or `data` not a pair.
        DataValidationError: See `check_texts_and_labels`; also too few texts of a class for
            `cv_folds`, or no text with a word once standardized.
    """
    if config.custom_csv is not None or config.dataset == "mr":
        raise ConfigError(
            "pass either data=(texts, labels) or a dataset to read (dataset=mr, custom_csv=), not both. "
            f"Received: dataset={config.dataset!r}, custom_csv={config.custom_csv!r}"
        )
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ConfigError(f"expected data=(texts, labels). Received: {type(data).__name__}")
    given = load_custom(data[0], data[1], config.class_names)
    texts, y = limit_texts(given.texts_train, given.y_train, config.max_train_samples, config.seed)
    stratified_fold_ids(y, config.cv_folds, config.seed)
    check_has_words(texts)
    config = dataclasses.replace(
        config,
        dataset="custom",
        custom_csv=INPUT_FILE,
        text_column="text",
        label_column="label",
        encoding="utf-8",
        class_names=tuple(given.class_names),
    )
    table = pd.DataFrame({"text": given.texts_train, "label": given.y_train})
    return config, InMemoryData(given, INPUT_FILE, table.to_csv(index=False), path_field="custom_csv")


def train_with_test_split(config: SentimentConfig, data: TextData, ctx: RunContext) -> keras.Model:
    texts_test, y_test = data.texts_test, data.y_test
    assert texts_test is not None and y_test is not None, "train() holds out the test split of data that has one"
    texts, y = limit_texts(data.texts_train, data.y_train, config.max_train_samples, config.seed)
    groups = related_text_groups(texts) if config.related_text_validation else None
    x_fit, y_fit, x_val, y_val = train_val_split(texts, y, config.validation_fraction, config.seed, groups)
    ctx.report.dataset = {
        **data.info,
        "splits": {"train": len(y_fit), "validation": len(y_val), "test": len(y_test)},
    }
    if groups is not None:
        ctx.report.dataset["validation_split"] = (
            f"by {groups.max() + 1:,} groups of texts that share rare words (largest {np.bincount(groups).max()}); "
            "see pipelines.inputs.text_groups"
        )
    pretrained = load_pretrained(config)
    with ctx.timer("train_seconds"):
        trained = train_rnn(
            config, x_fit, y_fit, x_val, y_val, ctx, ctx.run_dir, pretrained, snapshots=config.snapshot_ensemble
        )
    p_val = trained.p_val
    assert p_val is not None, "trained with validation texts"
    ctx.report.history = trained.history
    snapshots = len(snapshot_members(trained.net))
    if snapshots:
        ctx.report.add_text(
            "Checkpoint ensemble",
            (
                f"The RNN predicts with the mean logit of its weights at the end of each of its {snapshots} epochs "
                "(snapshot_ensemble=True): one training run, one forward pass per epoch. Validation figures, the "
                "threshold and the ensemble weight are of this average too."
            ),
        )
    final = trained
    if config.refit:
        # As the baseline is: validation has chosen the epochs, the threshold and the ensemble
        # weight; the model to test and keep then learns from every training text.
        epochs = trained.epochs
        with ctx.timer("refit_seconds"):
            final = train_rnn(
                config,
                texts,
                y,
                None,
                None,
                ctx,
                ctx.run_dir / "refit",
                pretrained,
                snapshots=config.snapshot_ensemble,
                epochs=epochs,
                temperature=trained.temperature,
            )
        vocabulary = ", its vocabulary adapted on them" if pretrained is None else ""
        ctx.report.add_text(
            "Refit on all training texts",
            (
                f"The model tested and saved is a second run of {epochs} epoch{'s' * (epochs != 1)} on all "
                f"{len(y):,} training texts (refit=True){vocabulary}; the curves, threshold and ensemble weight "
                f"are of the run validated on {len(y_val):,} held-out texts."
            ),
        )
    with ctx.timer("eval_seconds"):
        p_test = predict_proba(final.net, texts_test, final.vectorizer)
    p_base = p_ens = weight = None
    if config.with_baseline:
        p_base_val, p_base = baseline(config, x_fit, y_fit, x_val, texts, y, texts_test, ctx)
        weight = ensemble_weight(y_val, p_val, p_base_val)
        p_ens = weight * p_test + (1 - weight) * p_base
    add_sentiment_evaluation(
        ctx,
        y_test,
        p_test,
        texts_test,
        data.class_names,
        threshold=best_f1_threshold(y_val, p_val),
        p_base=p_base,
        p_ens=p_ens,
        weight=weight,
        n_errors=config.n_errors,
        scope=f"the {len(y_test):,} test texts",
    )
    if final.temperature is not None:
        ctx.report.add_metrics(uncalibrated_metrics(y_test, p_test, final.temperature))
    return finish(final, data, ctx)


def train_validation_only(config: SentimentConfig, data: TextData, ctx: RunContext) -> keras.Model:
    """A tuning trial: the RNN trained on the training texts, its curves on a held-out slice of
    them; the test split (or, without one, the cross-validation) is left for the final run."""
    texts, y = limit_texts(data.texts_train, data.y_train, config.max_train_samples, config.seed)
    x_fit, y_fit, x_val, y_val = train_val_split(texts, y, config.validation_fraction, config.seed)
    ctx.report.dataset = {**data.info, "splits": {"train": len(y_fit), "validation": len(y_val)}}
    with ctx.timer("train_seconds"):
        trained = train_rnn(config, x_fit, y_fit, x_val, y_val, ctx, ctx.run_dir, load_pretrained(config))
    ctx.report.history = trained.history
    ctx.report.add_text(
        "Held-out evaluation",
        "Not run (test_evaluation=false): a tuning trial, scored on its validation slice. The study runs its "
        "best configuration once more with the test split (or the cross-validation) on.",
    )
    return finish(trained, data, ctx)


def train_cross_validated(config: SentimentConfig, data: TextData, ctx: RunContext) -> keras.Model:
    texts, y = limit_texts(data.texts_train, data.y_train, config.max_train_samples, config.seed)
    folds = stratified_fold_ids(y, config.cv_folds, config.seed)
    ctx.report.dataset = {
        **data.info,
        "evaluation": f"stratified {config.cv_folds}-fold cross-validation",
        "splits": {"total": len(y)},
    }
    pretrained = load_pretrained(config)
    p_rnn, p_base, p_ens, p_raw = (np.zeros(len(y)) for _ in range(4))
    thresholds, weights, temperatures, fold_rows = [], [], [], []
    for k in range(config.cv_folds):
        held_out = folds == k
        x_part, y_part = texts[~held_out], y[~held_out]
        x_fit, y_fit, x_val, y_val = train_val_split(x_part, y_part, config.validation_fraction, config.seed + k)
        start = time.perf_counter()
        with ctx.timer("train_seconds"):
            trained = train_rnn(config, x_fit, y_fit, x_val, y_val, ctx, ctx.run_dir / "folds" / str(k), pretrained)
        p_val = trained.p_val
        assert p_val is not None, "trained with validation texts"
        p_rnn[held_out] = predict_proba(trained.net, texts[held_out], trained.vectorizer)
        if trained.temperature is not None:  # each fold's own temperature
            temperatures.append(trained.temperature)
            p_raw[held_out] = unscaled(p_rnn[held_out], trained.temperature)
        thresholds.append(best_f1_threshold(y_val, p_val))
        row = {
            "fold": k,
            "epochs": len(trained.history.get("loss", [])),
            "accuracy": float(np.mean((p_rnn[held_out] >= 0.5) == (y[held_out] == 1))),
        }
        if config.with_baseline:
            base_val, p_base[held_out] = baseline(config, x_fit, y_fit, x_val, x_part, y_part, texts[held_out], ctx)
            weights.append(ensemble_weight(y_val, p_val, base_val))
            p_ens[held_out] = weights[-1] * p_rnn[held_out] + (1 - weights[-1]) * p_base[held_out]
            row["baseline_accuracy"] = float(np.mean((p_base[held_out] >= 0.5) == (y[held_out] == 1)))
            row["ensemble_accuracy"] = float(np.mean((p_ens[held_out] >= 0.5) == (y[held_out] == 1)))
        row["seconds"] = time.perf_counter() - start
        fold_rows.append(row)
        print(
            f"fold {k + 1}/{config.cv_folds}: "
            + ", ".join(f"{key} {value:.4f}" for key, value in row.items() if "accuracy" in key),
            flush=True,
        )
        keras.backend.clear_session(free_memory=True)

    def fold_stats(key: str) -> tuple[float, float]:
        values = [row[key] for row in fold_rows]
        return float(np.mean(values)), float(np.std(values))

    cv = {}
    for key, prefix in (("accuracy", "cv"), ("baseline_accuracy", "baseline_cv"), ("ensemble_accuracy", "ensemble_cv")):
        if key in fold_rows[0]:
            cv[f"{prefix}_accuracy_mean"], cv[f"{prefix}_accuracy_std"] = fold_stats(key)
    ctx.report.add_metrics(cv)
    ctx.report.add_table(
        "Cross-validation folds",
        fold_rows,
        note="Accuracy at 0.5 on each held-out fold; the RNN, its vectorizer and the "
        "baseline are fitted on the other folds only.",
    )
    add_sentiment_evaluation(
        ctx,
        y,
        p_rnn,
        texts,
        data.class_names,
        threshold=float(np.median(thresholds)),
        p_base=p_base if config.with_baseline else None,
        p_ens=p_ens if config.with_baseline else None,
        weight=float(np.mean(weights)) if weights else None,
        n_errors=config.n_errors,
        scope=f"the out-of-fold predictions of all {len(y):,} texts (threshold: median over folds; "
        "ensemble: each fold's own weight, mean shown)",
    )
    if temperatures:  # before each fold's temperature; the temperature shown is their mean
        ctx.report.add_metrics({**uncalibrated_metrics(y, p_raw, 1.0), "temperature": float(np.mean(temperatures))})
    if not config.refit:
        return finish(trained, data, ctx)
    # The model to keep learns from every text; a slice stays out for early stopping.
    x_fit, y_fit, x_val, y_val = train_val_split(texts, y, config.validation_fraction, config.seed)
    with ctx.timer("refit_seconds"):
        final = train_rnn(config, x_fit, y_fit, x_val, y_val, ctx, ctx.run_dir / "refit", pretrained)
    ctx.report.history = final.history
    return finish(final, data, ctx)
