"""DCGAN: our `dcgan` defaults against the TensorFlow DCGAN tutorial configuration.

The tutorial side is tensorflow.org's tutorials/generative/dcgan, as written there:
generator Dense(7*7*256, no bias) - BN - LeakyReLU - Conv2DTranspose(128, 5, stride 1) -
BN - LeakyReLU - Conv2DTranspose(64, 5, stride 2) - BN - LeakyReLU - Conv2DTranspose(1, 5,
stride 2, tanh); discriminator Conv2D(64, 5, stride 2) - LeakyReLU - Dropout(0.3) -
Conv2D(128, 5, stride 2) - LeakyReLU - Dropout(0.3) - Flatten - Dense(1); Adam 1e-4 for both,
batch 256, the tutorial's `@tf.function` train step (one noise batch, both tapes at once).

Both sides train on the same images (the canonical 60k MNIST training images, or the first
`--max-train-samples` of them) for the same number of epochs, each in its own fresh process,
and are scored by the same code (`add_generative_evaluation`) with the same kept domain
classifier: domain FID of 10k samples against the 10k test images, the class coverage and
the Inception Score. Acceptance: ours has the lower `fid_domain`, and each class makes up
7-13 % of our samples.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/dcgan.py [--epochs 10]
    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/dcgan.py --smoke   # tiny: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import append_section, markdown_table, run_script  # noqa: E402

TUTORIAL = textwrap.dedent(
    """
    import json, sys, tempfile, time
    import numpy as np, keras, tensorflow as tf
    from keras import layers
    import pipelines
    from pipelines.evaluation.generative_report import add_generative_evaluation
    from pipelines.evaluation.report import Report
    from pipelines.inputs.mnist import load_mnist_family
    from pipelines.recipes.gan import load_fid_classifier
    seed, epochs, args = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    config = pipelines.get_config("dcgan", seed=seed, **args)
    classifier, _ = load_fid_classifier(config)
    keras.utils.set_random_seed(seed)
    d = load_mnist_family("mnist")
    train_images = d.x_train[: config.max_train_samples].reshape(-1, 28, 28, 1).astype("float32")
    train_images = (train_images - 127.5) / 127.5  # Normalize the images to [-1, 1]
    BUFFER_SIZE = len(train_images)
    BATCH_SIZE = 256
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE).batch(BATCH_SIZE)

    def make_generator_model():
        model = keras.Sequential()
        model.add(layers.Input((100,)))
        model.add(layers.Dense(7*7*256, use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Reshape((7, 7, 256)))
        model.add(layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding='same', use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding='same', use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding='same', use_bias=False,
                                         activation='tanh'))
        return model

    def make_discriminator_model():
        model = keras.Sequential()
        model.add(layers.Input((28, 28, 1)))
        model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding='same'))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding='same'))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model

    generator, discriminator = make_generator_model(), make_discriminator_model()
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = keras.optimizers.Adam(1e-4)
    discriminator_optimizer = keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([BATCH_SIZE, 100])  # as in the tutorial, also for the last, partial batch
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))

    epoch_seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        for image_batch in train_dataset:
            train_step(image_batch)
        epoch_seconds.append(time.perf_counter() - start)
    report = Report("dcgan-tutorial")
    m = add_generative_evaluation(report, generator, classifier, d, seed=seed, n_generated=config.eval_samples,
                                  discriminator=discriminator)
    report.write(tempfile.mkdtemp(prefix="dcgan-tutorial-"))
    print(json.dumps({**m, "train_seconds": sum(epoch_seconds), "epoch_seconds": epoch_seconds,
                      "params": generator.count_params() + discriminator.count_params(),
                      "train_images": len(train_images), "batch_size": BATCH_SIZE}))
    """
)

OURS = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    seed, epochs, args = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    r = pipelines.run("dcgan", seed=seed, epochs=epochs, verbose=0, out=tempfile.mkdtemp(prefix="dcgan-ours-"), **args)
    from pipelines.models import load_model
    gan_params = r.model.count_params() + load_model(r.report_dir / "discriminator.keras").count_params()
    print(json.dumps({**r.metrics, "train_seconds": r.report["timings"]["train_seconds"],
                      "epoch_seconds": r.history["epoch_seconds"], "params": gan_params,
                      "train_images": r.report["dataset"]["splits"]["train"], "batch_size": r.config.batch_size,
                      "report_dir": str(r.report_dir)}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="epochs of both sides (default: our default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-train-samples", type=int, default=None, help="train both on the first N images")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 epoch on 2,560 images, 1,000 samples, a quick domain classifier; prints only",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding mnist/")
    shared = {}
    if args.smoke:
        args.epochs, args.no_write = args.epochs or 1, True
        shared = {
            "max_train_samples": 2560,
            "eval_samples": 1000,
            "fid_classifier_epochs": 1,
            "fid_classifier_train_samples": 2000,
        }
    if args.max_train_samples is not None:
        shared["max_train_samples"] = args.max_train_samples
    if args.epochs is None:
        import pipelines

        args.epochs = pipelines.get_config("dcgan").epochs
    if args.epochs < 1:
        raise SystemExit(f"--epochs must be >= 1. Received: {args.epochs}")
    sides = [
        ("TensorFlow DCGAN tutorial (Adam 1e-4, batch 256)", TUTORIAL),
        ("keras-pipelines `dcgan` defaults (200 pixel clusters, Adam 2e-4 beta_1 0.5, batch 128)", OURS),
    ]
    rows, fid = [], {}
    for name, script in sides:
        r = run_script(script, str(args.seed), str(args.epochs), json.dumps(shared))
        fid[name] = r["fid_domain"]
        per_epoch = sum(r["epoch_seconds"]) / len(r["epoch_seconds"])
        rows.append(
            [
                name,
                f"{r['fid_domain']:.2f}",
                f"{r['fid_domain_real_floor']:.2f}",
                f"{r['inception_score_domain']:.2f}",
                f"{r['class_entropy']:.3f}",
                f"{100 * r['min_class_fraction']:.1f}-{100 * r['max_class_fraction']:.1f}",
                f"{r['discriminator_roc_auc']:.3f}",
                args.epochs,
                r["batch_size"],
                f"{per_epoch:.1f}",
                r["train_images"],
                f"{r['params']:,}",
            ]
        )
        print(rows[-1], flush=True)
        last = r
    ours, tutorial = fid[sides[1][0]], fid[sides[0][0]]
    balanced = 0.07 <= last["min_class_fraction"] and last["max_class_fraction"] <= 0.13
    table = markdown_table(
        [
            "model",
            "fid_domain",
            "real floor",
            "IS (domain)",
            "class entropy",
            "class % (min-max)",
            "D ROC AUC",
            "epochs",
            "batch",
            "s/epoch",
            "train images",
            "G+D parameters",
        ],
        rows,
    )
    table += (
        f"\n\nSame data, same {args.epochs} epochs, seed {args.seed}; each side in a fresh process, scored "
        f"by the same domain classifier. fid_domain ours {ours:.2f} vs tutorial {tutorial:.2f}: "
        f"{'lower (met)' if ours < tutorial else 'NOT lower'}; every class 7-13 % of our samples: "
        f"{'met' if balanced else 'NOT met'}."
    )
    print(table)
    if not args.no_write:
        append_section("DCGAN: `dcgan` vs the TensorFlow DCGAN tutorial", table)


if __name__ == "__main__":
    main()
