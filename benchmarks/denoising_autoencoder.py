"""Denoising: our `denoising_autoencoder` defaults against the official Keras configuration.

The Keras side is the denoising part of keras.io's examples/vision/autoencoder.py:
encoder Conv2D(32, 3, relu, same) - MaxPool 2 - Conv2D(32, 3, relu, same) - MaxPool 2,
decoder Conv2DTranspose(32, 3, strides 2, relu, same) x 2 - Conv2D(1, 3, sigmoid, same);
Adam, binary cross-entropy, batch 128, Gaussian noise 0.4 drawn once and clipped, as the
example does. (The example first trains 50 epochs on clean images; under a time budget
that would only take time from denoising, so it is left out.)

Both sides train on the same images: the pipeline's split, the anomaly class (0) held
out, and validate on the same normal validation images once per epoch. Each runs in its
own fresh process, one after the other, alternating which goes first per seed, and each
stops at the first batch past the same wall-time budget (`TimeBudget`; the epoch's
validation still runs). Both are scored on one fixed noisy test set: the 10k canonical
test images with noise 0.4 from `corrupt_images(..., seed=0)`; PSNR and SSIM are
`tf.image`'s with max_val 1, averaged over images. Acceptance: ours >= 1 dB higher PSNR.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/denoising_autoencoder.py [--budget-seconds 240]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

# Noise, budget and test-set seed are shared by both sides; anything else of ours may vary.
FIXED_KEYS = (
    "dataset",
    "corruption",
    "noise_factor",
    "test_noise_seed",
    "anomaly_class",
    "validation_fraction",
    "max_train_samples",
    "time_budget_seconds",
    "seed",
)

KERAS_EXAMPLE = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, keras
    from keras import layers
    import pipelines
    from pipelines.evaluation.image_quality import image_quality_metrics
    from pipelines.inputs.corruption import Corruption, corrupt_images
    from pipelines.inputs.mnist import load_mnist_family
    from pipelines.budget import TimeBudget
    from pipelines.recipes.denoising import split_data
    seed, budget = int(sys.argv[1]), float(sys.argv[2])
    keras.utils.set_random_seed(seed)
    d = load_mnist_family("mnist")
    split = split_data(d, pipelines.get_config("denoising_autoencoder", seed=seed))

    def preprocess(array):
        return array.astype("float32")[..., None] / 255.0

    def noise(array):
        noisy_array = array + 0.4 * np.random.normal(loc=0.0, scale=1.0, size=array.shape)
        return np.clip(noisy_array, 0.0, 1.0)

    train_data, val_data = preprocess(split.x_train), preprocess(split.x_val[split.y_val == 0])
    noisy_train_data, noisy_val_data = noise(train_data), noise(val_data)
    input = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
    x = layers.MaxPooling2D((2, 2), padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)
    autoencoder = keras.Model(input, x)
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    start = time.perf_counter()
    history = autoencoder.fit(x=noisy_train_data, y=train_data, epochs=100, batch_size=128, shuffle=True,
                              validation_data=(noisy_val_data, val_data), callbacks=[TimeBudget(budget)], verbose=0)
    train_seconds = time.perf_counter() - start
    clean = preprocess(d.x_test)
    noisy = corrupt_images(d.x_test, Corruption("gaussian", noise_factor=0.4), seed=0)
    m = image_quality_metrics(clean, noisy, autoencoder.predict(noisy, batch_size=512, verbose=0))
    print(json.dumps({**m, "train_seconds": train_seconds, "epochs": len(history.history["loss"]),
                      "params": autoencoder.count_params(), "train_images": len(train_data)}))
    """
)

OURS = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    from pipelines.config import apply_overrides
    seed, budget, overrides = int(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
    config = pipelines.get_config("denoising_autoencoder", seed=seed, time_budget_seconds=budget, verbose=0,
                                  out=tempfile.mkdtemp())
    config = apply_overrides(config, overrides, from_strings=True)
    r = pipelines.run(config)
    print(json.dumps({**r.metrics, "train_seconds": r.report["timings"]["train_seconds"],
                      "epochs": len(r.history["loss"]), "params": r.model.count_params(),
                      "train_images": r.report["dataset"]["splits"]["train"]}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-seconds", type=float, default=240.0, help="training wall time of each side")
    parser.add_argument("--seeds", type=int, default=1, help="repeat each side with seeds 1..N")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one of our config fields (not the shared noise, data or budget)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding mnist/")
    if args.budget_seconds <= 0:
        raise SystemExit(f"--budget-seconds must be > 0. Received: {args.budget_seconds}")
    overrides = dict(item.split("=", 1) for item in args.set if "=" in item)
    if len(overrides) != len(args.set) or set(overrides) & set(FIXED_KEYS):
        raise SystemExit(
            f"--set takes KEY=VALUE pairs of keys other than {', '.join(FIXED_KEYS)}. Received: {args.set}"
        )
    ours_name = "keras-pipelines `denoising_autoencoder` defaults" + (f" ({', '.join(args.set)})" if args.set else "")
    sides = [
        ("Keras autoencoder example (BCE, batch 128)", KERAS_EXAMPLE, ()),
        (ours_name, OURS, (json.dumps(overrides),)),
    ]
    rows, psnr = [], {}
    for seed in range(1, args.seeds + 1):
        # The machine's speed drifts over minutes: alternate which side gets the first slot.
        for name, script, extra in sides if seed % 2 else sides[::-1]:
            r = run_script(script, str(seed), str(args.budget_seconds), *extra)
            psnr.setdefault(name, []).append(r["psnr_denoised"])
            rows.append(
                [
                    name,
                    seed,
                    f"{r['psnr_denoised']:.2f}",
                    f"{r['ssim_denoised']:.4f}",
                    f"{r['psnr_noisy']:.2f}",
                    f"{r['train_seconds']:.0f}",
                    r["epochs"],
                    r["train_images"],
                    f"{r['params']:,}",
                ]
            )
            print(rows[-1], flush=True)
    gain = sum(psnr[ours_name]) / len(psnr[ours_name]) - sum(psnr[sides[0][0]]) / len(psnr[sides[0][0]])
    table = markdown_table(
        [
            "model",
            "seed",
            "test PSNR (dB)",
            "test SSIM",
            "noisy PSNR (dB)",
            "train seconds",
            "epochs",
            "train images",
            "parameters",
        ],
        rows,
    )
    table += (
        f"\n\nBudget {args.budget_seconds:.0f} s of training wall time per side. Mean PSNR difference, ours "
        f"minus Keras: {gain:+.2f} dB (acceptance: >= +1 dB: {'met' if gain >= 1 else 'NOT met'})."
    )
    print(table)
    if not args.no_write:
        append_section("Denoising autoencoder: `denoising_autoencoder` vs the Keras autoencoder example", table)


if __name__ == "__main__":
    main()
