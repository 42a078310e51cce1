"""Transfer learning: 1,000 labelled Fashion-MNIST images, from scratch or from a trained model.

Sources, each trained once here:
- `mnist` on MNIST (60k digits; `--source-epochs`, default 3): a supervised backbone from
  another domain;
- `denoising_autoencoder` on all 60k Fashion-MNIST training images, labels unused
  (`--source-epochs`): the pre-train-then-fine-tune recipe for few labels.

Targets: the `mnist` pipeline on Fashion-MNIST with `max_train_samples=1000` (the same
seeded 1,000 images in every row), scored on the 10,000 test images: from scratch, and
from each source with `freeze=none` and `freeze=backbone`. Every target row trains
`--epochs` epochs (early stopping on the same validation split); each run is a fresh process.

    python benchmarks/transfer.py [--seed 1] [--epochs 30] [--source-epochs 3]
    python benchmarks/transfer.py --smoke     # tiny settings, printed only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import markdown_table, publish, run_script  # noqa: E402

RUN = textwrap.dedent(
    """
    import json, sys
    import pipelines
    name, overrides = sys.argv[1], json.loads(sys.argv[2])
    result = pipelines.run(name, verbose=0, **overrides)
    print(json.dumps({"metrics": result.metrics, "timings": result.report["timings"],
                      "epochs": len(result.history.get("loss", []))}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--source-epochs", type=int, default=3)
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    seed, epochs = args.seed, args.epochs
    quick = {"max_train_samples": 2000} if args.smoke else {}
    with tempfile.TemporaryDirectory() as tmp:
        sources = {
            "mnist": dict(name="mnist", dataset="mnist", epochs=args.source_epochs, seed=seed, **quick),
            "denoising_autoencoder": dict(
                name="denoising_autoencoder",
                dataset="fashion_mnist",
                anomaly_class=None,  # every training image, no class held out
                epochs=args.source_epochs,
                seed=seed,
                **quick,
            ),
        }
        source_rows = []
        for key, spec in sources.items():
            spec = dict(spec)
            name = spec.pop("name")
            got = run_script(RUN, name, json.dumps({**spec, "out": f"{tmp}/{key}"}))
            source_rows.append((key, got))
            print(key, {k: got["metrics"].get(k) for k in ("accuracy", "psnr_denoised")}, flush=True)
        target = {
            "dataset": "fashion_mnist",
            "max_train_samples": args.labels,
            "epochs": epochs,
            "seed": seed,
            "batch_size": 64 if not args.smoke else 128,
        }
        variants = [
            ("from scratch", {}),
            ("from the MNIST classifier, freeze=none", {"init_from": f"{tmp}/mnist"}),
            ("from the MNIST classifier, freeze=backbone", {"init_from": f"{tmp}/mnist", "freeze": "backbone"}),
            (
                "from the Fashion-MNIST denoising autoencoder's encoder, freeze=none",
                {"init_from": f"{tmp}/denoising_autoencoder"},
            ),
            (
                "from the Fashion-MNIST denoising autoencoder's encoder, freeze=backbone",
                {"init_from": f"{tmp}/denoising_autoencoder", "freeze": "backbone"},
            ),
        ]
        rows = []
        for label, extra in variants:
            got = run_script(RUN, "mnist", json.dumps({**target, **extra, "out": f"{tmp}/t{len(rows)}"}))
            m = got["metrics"]
            rows.append(
                [
                    label,
                    f"{m['accuracy']:.2%}".replace("%", " %"),
                    f"[{m['accuracy_ci_low']:.2%}, {m['accuracy_ci_high']:.2%}]".replace("%", " %"),
                    f"{m['f1_macro']:.4f}",
                    got["epochs"],
                    f"{got['timings'].get('train_seconds', 0):.0f}",
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        [
            f"`mnist` on {args.labels:,} Fashion-MNIST images",
            "test accuracy (10k)",
            "95 % interval",
            "F1 macro",
            "epochs trained",
            "train s",
        ],
        rows,
    )
    mnist_acc = source_rows[0][1]["metrics"]["accuracy"]
    dae_psnr = source_rows[1][1]["metrics"].get("psnr_denoised")
    note = (
        f"Seed {seed}; the same {args.labels:,} training images (the pipeline's seeded split) in every row, "
        f"up to {epochs} epochs with early stopping on the same validation split, batch {target['batch_size']}, "
        f"the mnist pipeline's other defaults. Sources: the mnist CNN trained {args.source_epochs} epochs on MNIST "
        f"(test accuracy {mnist_acc:.2%}); the denoising autoencoder trained {args.source_epochs} epochs on the 60k "
        f"Fashion-MNIST training images without their labels (test PSNR {dae_psnr:.2f} dB). freeze=backbone trains "
        "the new head alone for 2 epochs first, then everything at a tenth of the learning rate."
    )
    publish("Transfer learning: 1,000 Fashion-MNIST labels", table + "\n\n" + note, smoke=args.smoke)


if __name__ == "__main__":
    main()
