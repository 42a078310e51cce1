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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from pipelines import runner
from pipelines.baselines.tfidf import BaselineConfig
from pipelines.calibration import CALIBRATE_DOC, CALIBRATIONS, temperature_of, uncalibrated_metrics
from pipelines.class_weights import CLASS_WEIGHT_DOC, check_class_weight
from pipelines.config import MAX_EPOCHS, TrainConfig, param
from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.text import TextData, load_csv, load_imdb, load_mr
from pipelines.inputs.text_dataset import TextAugmentConfig
from pipelines.models import check_model_io
from pipelines.nets.rnn import POOLINGS, RNN_CELLS
from pipelines.recipes.sentiment_report import add_sentiment_evaluation
from pipelines.recipes.sentiment_runs import (
    check_texts_data,
    train_cross_validated,
    train_validation_only,
    train_with_test_split,
)
from pipelines.recipes.text_classifier import predict_raw_texts, resolve_init_from
from pipelines.registry import register
from pipelines.tuning.objective import TuneSpec

if TYPE_CHECKING:
    from pipelines.runner import RunContext

TEXT_DATASETS = ("imdb", "mr", "custom")


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
    epochs: int = param(3, "Maximum number of training epochs.", ge=1, le=MAX_EPOCHS)
    batch_size: int = param(32, "Batch size.", ge=1)
    learning_rate: float = param(2e-3, "Peak learning rate.", gt=0)
    clipnorm: float = param(1.0, "Gradient norm clipping (RNN gradients can explode); 0 disables.", ge=0)
    class_weight: str | tuple[float, ...] | None = param(None, CLASS_WEIGHT_DOC)
    calibrate: str = param("none", CALIBRATE_DOC, choices=CALIBRATIONS)
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
    test_evaluation: bool = param(
        True,
        "Evaluate on the held-out data: the test split, or the cross-validation folds (data without one); off for "
        "tuning trials, which are scored on a validation slice.",
    )
    n_errors: int = param(12, "Most confident test errors listed with their text.", ge=0)

    def validate(self) -> None:
        check_class_weight(self.class_weight)
        if isinstance(self.class_weight, tuple) and len(self.class_weight) != 2:
            raise ConfigError(f"class_weight needs two weights, for labels 0 and 1. Received: {self.class_weight}")
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


def load_texts(config: SentimentConfig, given: TextData | None = None) -> TextData:
    """Reads the configured dataset (checksums verified for the shared files), or takes `given`
    (texts passed in memory and checked by `check_texts_data`)."""
    if given is not None:
        return dataclasses.replace(given, info={**given.info, "path": config.custom_csv})
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


def check_saved(model: keras.Model, config: SentimentConfig) -> None:
    """`evaluate`'s check of a saved model: raw strings in (the end-to-end model), one probability out."""
    check_model_io(model, [((1,), "string")], (1,), task="sentiment")


def evaluate_saved(model: keras.Model, config: SentimentConfig, ctx: RunContext) -> None:
    """The CLI's `evaluate`: a saved end-to-end model on the dataset's test texts (or all of them)."""
    data = load_texts(config)
    texts, y = (data.texts_test, data.y_test) if data.texts_test is not None else (data.texts_train, data.y_train)
    assert y is not None, "TextData has test labels with its test texts"
    ctx.report.dataset = {**data.info, "evaluated": "test" if data.texts_test is not None else "all texts"}
    with ctx.timer("eval_seconds"):
        p = predict_raw_texts(model, texts)
    # NaN: a text without a word of the model's vocabulary gets no prediction; it is not scored.
    scored = ~np.isnan(p)
    if not scored.any():
        raise DataValidationError(
            f"expected texts with words the model knows. Received {len(p)} texts, none with a word of its "
            "vocabulary, so it predicts none of them. Evaluate it on data of its own language and domain."
        )
    ctx.report.dataset["not_scored"] = int((~scored).sum())
    add_sentiment_evaluation(
        ctx,
        y[scored],
        p[scored],
        texts[scored],
        data.class_names,
        threshold=0.5,
        p_base=None,
        p_ens=None,
        weight=None,
        n_errors=config.n_errors,
        scope=f"{int(scored.sum()):,} texts"
        + (f" ({int((~scored).sum())} without a known word not scored)" if not scored.all() else ""),
    )
    temperature = temperature_of(model)
    if temperature is not None:
        ctx.report.add_metrics(uncalibrated_metrics(y[scored], p[scored], temperature))


# `pipelines tune sentiment`: the best validation accuracy of quick trials (5k texts, two
# epochs, no baseline); neither the test split nor the cross-validation is read by a trial.
TUNE = TuneSpec(
    "val_accuracy",
    "maximize",
    source="history",
    space={
        "learning_rate": "log:5e-4:5e-3",
        "embed_dim": "choice:64,128,256",
        "units": "choice:32|64|128",
        "dropout": "float:0:0.5",
        "embedding_dropout": "float:0:0.4",
    },
    trial_settings={"test_evaluation": False, "with_baseline": False, "epochs": 2, "max_train_samples": 5000},
    final_settings={"test_evaluation": True},
)


@register(
    "sentiment",
    config=SentimentConfig,
    evaluate=evaluate_saved,
    check_model=check_saved,
    prepare=resolve_init_from,
    data=check_texts_data,
    tune=TUNE,
    summary="Binary sentiment of raw text: BiLSTM over learned embeddings, with a TF-IDF baseline.",
)
def train(config: SentimentConfig, ctx: RunContext) -> keras.Model:
    # Data: the texts, with the canonical test split when the dataset has one.
    data = load_texts(config, ctx.data)
    if not config.test_evaluation:  # a tuning trial: scored on a validation slice only
        return train_validation_only(config, data, ctx)
    # Model, training and evaluation: validated on a held-out slice and tested on the test split
    # (IMDB), or cross-validated on every text (MR, your own texts). See pipelines.recipes.sentiment_runs.
    if data.texts_test is None:
        return train_cross_validated(config, data, ctx)
    return train_with_test_split(config, data, ctx)


def run_texts(
    texts: Sequence[str], labels: Sequence[Any], class_names: Sequence[str] | None = None, **overrides: Any
) -> runner.RunResult:
    """Runs the pipeline on your own texts and labels: `run("sentiment", data=(texts, labels), ...)`.

    Cross-validated (there is no test split). The data are checked before any work (see
    `check_texts_data`); the run keeps them as `input.csv` beside the report.

    Usage (`texts` a list of strings, `labels` 0/1 or the class names):

        result = run_texts(texts, labels, class_names=["neg", "pos"], epochs=2)
    """
    if class_names is not None:
        overrides["class_names"] = tuple(class_names)
    return runner.run("sentiment", data=(texts, labels), **overrides)
