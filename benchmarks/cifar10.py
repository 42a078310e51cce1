"""CIFAR-10: the `mnist` pipeline's CNN with its colour defaults, against the classic Keras
`cifar10_cnn` example given the same wall time.

Ours: `pipelines.run("mnist", dataset="cifar10")`, every setting the data's default
(`pipelines config mnist --set dataset=cifar10` lists them). The reference: the Keras 2
example `examples/cifar10_cnn.py` (four convolutions, RMSprop 1e-4 with decay 1e-6,
batch 32, shifts of 10 % and flips), its ImageDataGenerator written as Keras 3 layers in
tf.data, stopped once it has trained as long as ours did (its own schedule is 100 epochs).
Each side runs in a fresh process, ours first (its time is the reference's budget).
Reported: canonical 10k test accuracy, training wall time (validation included), the
targets (90 % within 30 minutes), and ours' training FLOP/s as a share of the matmul
peak measured in the same script.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/cifar10.py [--seed 1] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import PEAK_SCRIPT, append_section, markdown_table, run_script  # noqa: E402

BUDGET_SECONDS = 1800
TARGET_ACCURACY = 0.90

OURS = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    from _common import forward_flops

    r = pipelines.run("mnist", dataset="cifar10", seed=int(sys.argv[1]), out=tempfile.mkdtemp(), verbose=2)
    n_train, epochs = r.report["dataset"]["splits"]["train"], len(r.history["loss"])
    forward = forward_flops(r.model, (32, 32, 3))
    print(json.dumps({"accuracy": r.metrics["accuracy"], "train_seconds": r.report["timings"]["train_seconds"],
                      "epochs": epochs, "params": r.model.count_params(), "forward_flops": forward,
                      "train_flops": 3 * forward * n_train * epochs}))
    """
)

KERAS_EXAMPLE = textwrap.dedent(
    """
    import json, sys, time
    import keras, tensorflow as tf
    from keras import layers
    from pipelines.inputs.cifar10 import load_cifar10

    seed, budget = int(sys.argv[1]), float(sys.argv[2])
    keras.utils.set_random_seed(seed)
    d = load_cifar10()
    x_train, x_test = d.x_train.astype("float32") / 255, d.x_test.astype("float32") / 255
    y_train, y_test = keras.utils.to_categorical(d.y_train, 10), keras.utils.to_categorical(d.y_test, 10)
    augment = keras.Sequential(
        [layers.RandomTranslation(0.1, 0.1, fill_mode="nearest"), layers.RandomFlip("horizontal")]
    )
    train = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train), seed=seed).batch(32)
             .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    # Keras 2's RMSprop(lr=1e-4, decay=1e-6): lr / (1 + 1e-6 * step).
    lr = keras.optimizers.schedules.InverseTimeDecay(1e-4, decay_steps=1, decay_rate=1e-6)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(lr), metrics=["accuracy"])

    class Budget(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() - start > budget:
                self.model.stop_training = True

    start = time.perf_counter()
    history = model.fit(train, epochs=100, verbose=2, callbacks=[Budget()])
    train_seconds = time.perf_counter() - start
    score = model.evaluate(x_test, y_test, verbose=0)
    print(json.dumps({"accuracy": score[1], "train_seconds": train_seconds, "epochs": len(history.history["loss"]),
                      "params": model.count_params()}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding cifar10/")
    peak = run_script(PEAK_SCRIPT)["peak_flops"]
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s", flush=True)
    ours = run_script(OURS, str(args.seed))
    print("ours", ours, flush=True)
    reference = run_script(KERAS_EXAMPLE, str(args.seed), str(ours["train_seconds"]))
    print("reference", reference, flush=True)
    achieved = ours["train_flops"] / ours["train_seconds"]
    rows = [
        [
            "keras-pipelines `mnist`, dataset=cifar10 (its defaults)",
            f"{100 * ours['accuracy']:.2f} %",
            f"{ours['train_seconds']:.0f}",
            ours["epochs"],
            f"{ours['params']:,}",
            f"{achieved / 1e9:.1f} ({100 * achieved / peak:.0f} % of peak)",
        ],
        [
            "Keras cifar10_cnn (RMSprop 1e-4, batch 32, shift and flip), same wall time",
            f"{100 * reference['accuracy']:.2f} %",
            f"{reference['train_seconds']:.0f}",
            reference["epochs"],
            f"{reference['params']:,}",
            "",
        ],
    ]
    table = markdown_table(
        ["model", "test accuracy (10k)", "train seconds", "epochs", "parameters", "training GFLOP/s"], rows
    )
    met = ours["accuracy"] >= TARGET_ACCURACY and ours["train_seconds"] <= BUDGET_SECONDS
    table += (
        f"\n\nSeed {args.seed}. Target {100 * TARGET_ACCURACY:.0f} % within {BUDGET_SECONDS // 60} minutes: "
        f"{'met' if met else 'NOT met'}. Matmul peak measured in the same script: {peak / 1e9:.1f} GFLOP/s "
        "(float32, 2048^3, all cores); training FLOPs are 3x the profiler's forward count per image."
    )
    print(table)
    if not args.no_write:
        append_section("CIFAR-10: `mnist` pipeline's colour defaults vs Keras cifar10_cnn", table)


if __name__ == "__main__":
    main()
