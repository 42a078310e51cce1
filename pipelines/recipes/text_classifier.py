"""The text classifier stage of the `sentiment` pipeline: the RNN built from the config, trained
on token ids (optionally fine-tuned from a saved model), and the end-to-end model of raw strings
that is saved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from pipelines.calibration import TemperatureScaling, fit_temperature, with_temperature
from pipelines.class_weights import class_weights
from pipelines.epoch_seeds import EpochSeeds
from pipelines.errors import ConfigError
from pipelines.inputs.text import TextData
from pipelines.inputs.text_dataset import head_tokens_for, make_text_dataset, make_vectorizer
from pipelines.nets.rnn import make_text_rnn
from pipelines.nets.snapshots import snapshot_ensemble, snapshot_members
from pipelines.nets.text_evidence import NaNWithoutKnownWords
from pipelines.training import (
    EpochCounter,
    WeightSnapshots,
    compile_scope,
    fit,
    fit_options,
    make_optimizer,
    schedule_of,
)

if TYPE_CHECKING:
    from pipelines.runner import RunContext
    from pipelines.tasks.sentiment import SentimentConfig

__all__ = [
    "EXAMPLE_TEXTS",
    "make_net",
    "make_end_to_end",
    "predict_proba",
    "Trained",
    "resolve_init_from",
    "load_pretrained",
    "train_rnn",
    "finish",
]

EXAMPLE_TEXTS = ["a wonderful film", "dull and far too long"]


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

    A text with no word of the vocabulary (empty, only punctuation, only unseen words) gets
    NaN, not the net's answer to no evidence (see `pipelines.nets.text_evidence`).

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
    proba = NaNWithoutKnownWords(dtype="float32", name="nan_without_known_words")([ids, proba])
    return keras.Model(text, proba, name="sentiment_end_to_end")


def predict_raw_texts(model: keras.Model, texts: Any, batch_size: int = 1024) -> np.ndarray:
    """P(positive) of each text from the saved end-to-end model (raw strings in), float64 `(n,)`;
    NaN for a text without a word of its vocabulary."""
    texts = np.asarray(texts, dtype=object)
    return np.concatenate(
        [
            model.predict(tf.constant(texts[i : i + batch_size, None].astype(str)), verbose=0)[:, 0]
            for i in range(0, len(texts), batch_size)
        ]
    ).astype("float64")


def predict_logits(net: keras.Model, texts: np.ndarray, vectorizer) -> np.ndarray:
    """The id-level net's logit of each text, float64 `(n,)`, in input order."""
    ds = make_text_dataset(texts, None, vectorizer, batch_size=256, training=False)
    return net.predict(ds, verbose=0)[:, 0].astype("float64")


def predict_proba(net: keras.Model, texts: np.ndarray, vectorizer) -> np.ndarray:
    """P(positive) of each text from the id-level net, float64 `(n,)`, in input order."""
    return 1.0 / (1.0 + np.exp(-predict_logits(net, texts, vectorizer)))


@dataclass
class Trained:
    net: keras.Model
    vectorizer: keras.layers.TextVectorization
    history: dict[str, list[float]]
    p_val: np.ndarray | None
    epochs: int  # the epochs behind `net`: all of them for snapshots, else early stopping's best
    temperature: float | None = None  # the net divides its logit by it (calibrate="temperature")


def resolve_init_from(config: SentimentConfig) -> SentimentConfig:
    """`config` with `init_from="imdb"` replaced by the kept IMDB model's path (trained on first use).

    Registered as the pipeline's `prepare`: the runner calls it before the run starts, so the
    kept model is never trained inside another run, and the report's config names the file.
    """
    if config.init_from != "imdb":
        return config
    from pipelines import runner
    from pipelines.model_store import kept_model

    path = kept_model(
        "sentiment_imdb",
        lambda out: runner.run(
            "sentiment", dataset="imdb", data_dir=config.data_dir, seed=config.seed, out=out, verbose=config.verbose
        ),
    )
    return replace(config, init_from=str(path))


def load_pretrained(config: SentimentConfig) -> tuple[keras.layers.TextVectorization, keras.Model] | None:
    """The vectorizer and id-level net of `config.init_from`, or None without one."""
    if config.init_from is None:
        return None
    from pipelines.models import load_model

    path = resolve_init_from(config).init_from
    assert path is not None, "checked above"
    model = load_model(path)
    vectorizers = [layer for layer in model.layers if isinstance(layer, keras.layers.TextVectorization)]
    nets = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(vectorizers) != 1 or len(nets) != 1:
        raise ConfigError(
            f"init_from needs a model saved by the sentiment pipeline (raw strings in). "
            f"Received: {str(path)!r}, with layers {[layer.name for layer in model.layers]}"
        )
    net = nets[0]
    if isinstance(net.layers[-1], TemperatureScaling):  # a calibrated source: its logit before the temperature
        net = keras.Model(net.inputs, net.layers[-1].input, name=net.name)
    # A checkpoint ensemble is fine-tuned from its last snapshot: one net, as trained.
    members = snapshot_members(net)
    return vectorizers[0], members[-1] if members else net


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
    epochs: int | None = None,
    temperature: float | None = None,
) -> Trained:
    """Trains the net on `texts` and returns it with P(positive) on validation.

    With `snapshots`, the returned net is the `snapshot_ensemble` of its weights at the
    end of every epoch trained (early stopping's restored best is then not used).
    Without validation texts (`texts_val=None`) it trains for `epochs` (default
    `config.epochs`), with no early stopping, and `p_val` is None.

    From scratch, the vectorizer is adapted on `texts` only. With `pretrained`
    (vectorizer, net), both are reused: the vocabulary stays the pretrained one (adapted
    on its own training texts, never on these validation or test texts) and a copy of the
    net is fine-tuned.

    With `config.calibrate="temperature"` the net divides its logit by the temperature
    fitted on the validation texts (`pipelines.calibration`), and `p_val` is calibrated
    too; without validation texts, by `temperature` (the validated run's).
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
    epoch_seeds = EpochSeeds(config.seed)  # order and augmentation drawn from (seed, epoch)
    train_ds = make_text_dataset(
        texts,
        y,
        vectorizer,
        config.batch_size,
        training=True,
        seed=config.seed,
        augment=config.augment,
        epoch_seeds=epoch_seeds,
    )
    val_ds = (
        None if texts_val is None else make_text_dataset(texts_val, y_val, vectorizer, batch_size=256, training=False)
    )
    steps_per_epoch = math.ceil(len(y) / config.batch_size)
    schedule = {**schedule_of(config), "epochs": config.epochs if epochs is None else epochs}
    patience = config.early_stopping_patience if texts_val is not None else 0
    with compile_scope(
        ctx.strategy,
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
        steps_per_epoch=steps_per_epoch,
    ) as options:
        if pretrained is None:
            net = make_net(config, vectorizer.vocabulary_size())
        else:
            net = keras.models.clone_model(pretrained[1])
            net.set_weights(pretrained[1].get_weights())
        net.compile(
            optimizer=make_optimizer(**schedule, steps_per_epoch=steps_per_epoch),
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
        run_dir,
        **{**fit_options(config), "epochs": schedule["epochs"], "early_stopping_patience": patience},
        monitor="val_loss" if val_ds is not None else "loss",
        extra_callbacks=[epoch_seeds, counter, *([collector] if collector else [])],
        class_weight=class_weights(config.class_weight, y, num_classes=2),
    )
    epochs = counter.epochs
    if not snapshots and patience > 0 and history.get("val_loss"):
        # Early stopping restored the weights of its best epoch.
        epochs -= len(history["val_loss"]) - 1 - int(np.argmin(history["val_loss"]))
    if collector is not None and len(collector.snapshots) > 1:
        with ctx.strategy.scope():
            net = snapshot_ensemble(net, collector.snapshots, name=f"{net.name}_snapshot_ensemble")
    logits_val = None if texts_val is None else predict_logits(net, texts_val, vectorizer)
    if config.calibrate == "temperature":
        if logits_val is not None and y_val is not None:
            temperature = fit_temperature(logits_val, y_val)
        if temperature is None:
            raise ValueError("calibrate='temperature' without validation texts needs the validated run's temperature")
        net = with_temperature(net, temperature)
        logits_val = None if logits_val is None else logits_val / temperature
    p_val = None if logits_val is None else 1.0 / (1.0 + np.exp(-logits_val))
    return Trained(net, vectorizer, history, p_val, max(1, epochs), temperature if config.calibrate != "none" else None)


def finish(trained: Trained, data: TextData, ctx: RunContext) -> keras.Model:
    """The end-to-end model to save (raw strings in), its example predictions and model card."""
    model = make_end_to_end(trained.vectorizer, trained.net)
    example = model.predict(tf.constant([[t] for t in EXAMPLE_TEXTS]), verbose=0)[:, 0]
    ctx.report.add_table(
        "Example predictions",
        [{"text": t, "P(positive)": float(p)} for t, p in zip(EXAMPLE_TEXTS, example)],
        note="The saved end-to-end model (raw strings in) on two made-up texts.",
    )
    ctx.model_card.update(
        inputs="raw strings, shape (n, 1): tf.constant([[text], ...])",
        outputs=f"P({data.class_names[1]}) in [0, 1], shape (n, 1); NaN for a text with no word of the vocabulary",
        class_names=list(data.class_names),
        vocabulary_size=int(trained.vectorizer.vocabulary_size()),
        parameters=int(trained.net.count_params()),
        snapshots=max(1, len(snapshot_members(trained.net))),
    )
    return model
