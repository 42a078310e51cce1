"""The checks of test_mirrored.py, run in one fresh process with two logical CPU devices.

Logical devices must be configured before TensorFlow initializes, so this runs as a script
(`python two_replicas.py OUT_DIR`): it splits the CPU in two, then runs every check, each
in its own `try`, and writes what it measured to `OUT_DIR/results.json` for the tests to
assert on. One process for all checks: importing TensorFlow costs about 10 s.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf

# Before anything else touches TensorFlow's devices.
_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from synthetic_images import bar_digits  # noqa: E402
from synthetic_texts import polar_texts  # noqa: E402
from two_replica_runs import PIPELINE_RUNS  # noqa: E402

import pipelines  # noqa: E402
from pipelines import devices  # noqa: E402
from pipelines.gradient_norms import GradientNorms  # noqa: E402

ENVIRONMENT_KEYS = ("strategy", "replicas", "devices", "precision_policy", "jit_compile")


def run_pipelines(out: Path) -> dict[str, Any]:
    """Runs every pipeline with device='cpu:0,1'; returns each run's environment and metrics."""
    from pipelines.tasks import dcgan, denoising_autoencoder
    from pipelines.tasks.advertising import run_dataframe
    from pipelines.tasks.sentiment import run_texts

    images = bar_digits(600, 200, seed=0)
    # The image generators read MNIST; tiny synthetic digits keep their evaluation short.
    denoising_autoencoder.load_mnist_family = dcgan.load_mnist_family = lambda name, data_dir=None: images
    rng = np.random.default_rng(0)
    tv, radio = rng.uniform(0, 300, 60), rng.uniform(0, 50, 60)
    frame = pd.DataFrame({"tv": tv, "radio": radio, "units": 3 + 0.04 * tv + 0.2 * radio + rng.normal(0, 0.3, 60)})
    texts, labels = polar_texts(160)

    results: dict[str, Any] = {}
    for name, overrides in PIPELINE_RUNS.items():
        kwargs = dict(overrides, device="cpu:0,1", out=str(out / name), verbose=0)
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            if name == "advertising":
                result = run_dataframe(frame, **kwargs)
            elif name == "sentiment":
                result = run_texts(texts, labels, class_names=["neg", "pos"], **kwargs)
            else:
                if name == "dcgan":  # the mnist run's classifier serves as the domain classifier
                    kwargs["fid_classifier"] = str(out / "mnist" / "model.keras")
                result = pipelines.run(name, **kwargs)
            report = json.loads((result.report_dir / "report.json").read_text())
            results[name] = {
                "environment": {k: report["environment"].get(k) for k in ENVIRONMENT_KEYS},
                "metrics": report["metrics"],
                "history": report["history"],
                # sentiment cross-validates: one history per fold, summarized in this table
                "folds": report["tables"].get("Cross-validation folds"),
            }
        except Exception:
            results[name] = {"error": traceback.format_exc()}
        results[name]["seconds"] = round(time.perf_counter() - start, 1)
        results[name]["cpu_seconds"] = round(time.process_time() - cpu_start, 1)
    return results


# ----------------------------------------------------------------------------- equivalence

STEPS = 8
GLOBAL_BATCH = 32


def _loss_path(
    spec: str, build: Callable[[], keras.Model], dataset: tf.data.Dataset, *, steps: int = STEPS
) -> tuple[dict[str, list[float]], list[np.ndarray]]:
    """Trains `build()` under `spec`'s strategy for `steps` steps of one batch each.

    One batch per `fit` epoch, so `history["loss"]` is the loss of each step (computed before
    that step's update), not a running mean, and `history["grad_norm"]` its gradient's norm.
    """
    strategy = devices.make_strategy(spec)
    keras.utils.set_random_seed(0)  # the same initial weights under both strategies
    with strategy.scope():
        model = build()
    history = model.fit(
        dataset.repeat(), steps_per_epoch=1, epochs=steps, verbose=0, shuffle=False, callbacks=[GradientNorms()]
    )
    return history.history, [np.asarray(w) for w in model.get_weights()]


def _compare(
    spec_one: str, spec_two: str, build: Callable[[], keras.Model], dataset: tf.data.Dataset, **kwargs: Any
) -> dict[str, Any]:
    one, weights_one = _loss_path(spec_one, build, dataset, **kwargs)
    two, weights_two = _loss_path(spec_two, build, dataset, **kwargs)
    loss = {key: [float(v) for v in history["loss"]] for key, history in (("one", one), ("two", two))}
    # Per tensor, the largest difference relative to the tensor's scale (at least 1).
    weight_diff = max(
        float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(a))))) for a, b in zip(weights_one, weights_two)
    )
    return {
        "one_device": loss["one"],
        "two_replicas": loss["two"],
        "weight_diff": weight_diff,
        "grad_norm_one_device": one["grad_norm"],
        "grad_norm_two_replicas": two["grad_norm"],
    }


def equivalence(out: Path) -> dict[str, Any]:
    """1 device at global batch B against 2 replicas at global batch B: loss paths and weights."""
    from pipelines.inputs.splits import fold_train_mask, kfold_ids
    from pipelines.inputs.tabular import make_fold_dataset
    from pipelines.nets.mlp import make_fold_mlp
    from pipelines.nets.rnn import make_text_rnn

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * GLOBAL_BATCH, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 3))).argmax(axis=1).astype("int32")

    def dense() -> keras.Model:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(3)])
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    # Advertising's fold MLP: the loss is a mean weighted by the fold masks.
    xa = rng.uniform(0, 300, size=(64, 3))
    ya = 3 + 0.05 * xa[:, 0] + 0.1 * xa[:, 1] + rng.normal(0, 0.5, 64)
    mask = fold_train_mask(kfold_ids(64, 4, 0))

    def fold_mlp() -> keras.Model:
        model = make_fold_mlp(xa, ya, mask, widths=(8,))
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.MeanSquaredError(reduction="mean_with_sample_weight"))
        return model

    # Sentiment's net: padded id sequences of different lengths, masked (mask_zero) through a BiLSTM.
    ids = np.zeros((GLOBAL_BATCH * 2, 10), "int32")
    for i, length in enumerate(rng.integers(2, 11, size=len(ids))):
        ids[i, :length] = rng.integers(1, 30, size=length)
    labels = (ids[:, 0] % 2).astype("float32")[:, None]

    def rnn() -> keras.Model:
        model = make_text_rnn(30, embed_dim=8, units=(4,), embedding_dropout=0.0, dropout=0.0, head_dropout=0.0)
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
        return model

    return {
        "dense": _compare("cpu", "cpu:0,1", dense, tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)),
        "fold_mlp": _compare("cpu", "cpu:0,1", fold_mlp, make_fold_dataset(xa, ya, mask)),
        "rnn_masked": _compare(
            "cpu", "cpu:0,1", rnn, tf.data.Dataset.from_tensor_slices((ids, labels)).batch(GLOBAL_BATCH), steps=4
        ),
    }


def metric_reduction(out: Path) -> dict[str, Any]:
    """`evaluate` of a fixed linear classifier on 101 examples in batches of 20.

    The last batch holds one example, so one replica gets none: the reduced accuracy and
    loss must still be the exact means over all 101 examples.
    """
    rng = np.random.default_rng(1)
    x = rng.normal(size=(101, 4)).astype("float32")
    y = rng.integers(0, 3, size=101).astype("int32")
    kernel = rng.normal(size=(4, 3)).astype("float32")
    logits = x @ kernel
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_proba = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = {
        "accuracy": float(np.mean(logits.argmax(axis=1) == y)),
        "loss": float(-np.mean(log_proba[np.arange(101), y])),
    }

    measured = {}
    for spec in ("cpu", "cpu:0,1"):
        with devices.make_strategy(spec).scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, use_bias=False)])
            model.compile(
                "sgd",
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            )
        model.set_weights([kernel])
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(20)
        measured[spec] = {k: float(v) for k, v in model.evaluate(dataset, verbose=0, return_dict=True).items()}
    return {"expected": expected, "measured": measured}


def gan_noise(out: Path) -> dict[str, Any]:
    """The DCGAN's noise under two replicas: each replica must draw its own."""
    from pipelines.nets.gan import DCGAN, make_discriminator, make_generator

    strategy = devices.make_strategy("cpu:0,1")
    with strategy.scope():
        gan = DCGAN(make_generator(filters=(8, 4)), make_discriminator(filters=(4,)), seed=0)

    @tf.function
    def draw() -> Any:
        return strategy.run(lambda: gan._noise(4))

    first, second = (strategy.experimental_local_results(draw()) for _ in range(2))
    return {
        "replicas_differ": not np.allclose(first[0], first[1]),
        "steps_differ": not np.allclose(first[0], second[0]),
    }


def strategy_reuse(out: Path) -> dict[str, Any]:
    """Whether two requests for the same devices get the same strategy (tensorflow/tensorflow#62790)."""
    return {"same": devices.make_strategy("cpu:0,1") is devices.make_strategy("CPU:0,1")}


CHECKS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "pipelines": run_pipelines,
    "equivalence": equivalence,
    "metric_reduction": metric_reduction,
    "gan_noise": gan_noise,
    "strategy_reuse": strategy_reuse,
}


def main(out: Path) -> None:
    results: dict[str, Any] = {}
    for name, check in CHECKS.items():
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            results[name] = check(out)
        except Exception:
            results[name] = {"error": traceback.format_exc()}
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - start, 1)
        results.setdefault("cpu_seconds", {})[name] = round(time.process_time() - cpu_start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
