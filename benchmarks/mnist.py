"""MNIST: our default `mnist` pipeline against the official Keras `mnist_convnet` example.

Both train on the same canonical files from PIPELINES_DATA_DIR, each in its own fresh
process (so neither inherits the other's TensorFlow state), one after the other on a
quiet machine, alternating which goes first per seed. Reported: canonical 10k test
accuracy and total training time (`fit` wall time, validation included, as the Keras
example does it). Use several seeds: on this VM one run's speed varies by up to ~50 %
from minute to minute.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/mnist.py [--seeds 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

# The keras.io example (examples/vision/mnist_convnet.py), unchanged but for timing and
# the data source: our checked IDX reader instead of keras.datasets (no internet here).
KERAS_EXAMPLE = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, keras
    from keras import layers
    from pipelines.inputs.mnist import load_mnist_family
    keras.utils.set_random_seed(int(sys.argv[1]))
    d = load_mnist_family("mnist")
    num_classes, input_shape = 10, (28, 28, 1)
    x_train = np.expand_dims(d.x_train.astype("float32") / 255, -1)
    x_test = np.expand_dims(d.x_test.astype("float32") / 255, -1)
    y_train = keras.utils.to_categorical(d.y_train, num_classes)
    y_test = keras.utils.to_categorical(d.y_test, num_classes)
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1, verbose=0)
    train_seconds = time.perf_counter() - start
    score = model.evaluate(x_test, y_test, verbose=0)
    print(json.dumps({"accuracy": score[1], "train_seconds": train_seconds, "epochs": 15,
                      "params": model.count_params()}))
    """
)

OURS = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    r = pipelines.run("mnist", seed=int(sys.argv[1]), out=tempfile.mkdtemp(), verbose=0)
    print(json.dumps({"accuracy": r.metrics["accuracy"], "train_seconds": r.report["timings"]["train_seconds"],
                      "epochs": len(r.history["loss"]), "params": r.model.count_params()}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1, help="repeat each side with seeds 1..N")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding mnist/")
    rows = []
    sides = [("Keras mnist_convnet (15 epochs, batch 128)", KERAS_EXAMPLE), ("keras-pipelines `mnist` defaults", OURS)]
    for seed in range(1, args.seeds + 1):
        # This machine's speed drifts by tens of percent over minutes: alternate which
        # side runs first so neither always gets the slower slot.
        for name, script in sides if seed % 2 else sides[::-1]:
            r = run_script(script, str(seed))
            rows.append(
                [
                    name,
                    seed,
                    f"{100 * r['accuracy']:.2f} %",
                    f"{r['train_seconds']:.0f}",
                    r["epochs"],
                    f"{r['params']:,}",
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(["model", "seed", "test accuracy (10k)", "train seconds", "epochs", "parameters"], rows)
    print(table)
    if not args.no_write:
        append_section("MNIST: `mnist` pipeline vs Keras mnist_convnet", table)


if __name__ == "__main__":
    main()
