"""ViT: the `vit` pipeline's defaults on MNIST and Fashion-MNIST, against a 10-minute budget.

For each dataset, one fresh process runs `pipelines.run("vit", dataset=...)` and reports
the canonical 10k test accuracy, the training wall time (`fit`, validation included),
the parameter count and the achieved training FLOP/s. Training FLOPs are counted by
TensorFlow's profiler on the model's forward graph (one image), times 3 for the backward
pass (the usual rule: the backward pass costs about twice the forward), times the images
trained. The machine's matmul peak is measured in the same script (float32 2048^3 matmuls
on all cores), so the fraction says how well the small ViT uses this CPU.

    PIPELINES_DATA_DIR=../shared/datasets python benchmarks/vit.py [--datasets mnist fashion_mnist]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

sys.path.insert(0, os.path.dirname(__file__))
from _common import PEAK_SCRIPT, append_section, markdown_table, run_script  # noqa: E402

BUDGET_SECONDS = 600

RUN = textwrap.dedent(
    """
    import json, sys, tempfile
    import pipelines
    from pipelines.nets.vit import make_vit
    from _common import forward_flops

    dataset, seed = sys.argv[1], int(sys.argv[2])
    r = pipelines.run("vit", dataset=dataset, seed=seed, out=tempfile.mkdtemp(), verbose=2)
    forward = forward_flops(make_vit((28, 28, 1), 10, **r.config.net_kwargs()), (28, 28, 1))
    n_train = r.report["dataset"]["splits"]["train"]
    epochs = len(r.history["loss"])
    print(json.dumps({"accuracy": r.metrics["accuracy"], "train_seconds": r.report["timings"]["train_seconds"],
                      "epochs": epochs, "params": r.model.count_params(), "forward_flops": forward,
                      "train_flops": 3 * forward * n_train * epochs,
                      "epoch_seconds": r.history.get("epoch_seconds")}))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    if not os.environ.get("PIPELINES_DATA_DIR"):
        raise SystemExit("set PIPELINES_DATA_DIR to the folder holding mnist/")
    peak = run_script(PEAK_SCRIPT)["peak_flops"]
    print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s", flush=True)
    rows = []
    for dataset in args.datasets:
        r = run_script(RUN, dataset, str(args.seed))
        achieved = r["train_flops"] / r["train_seconds"]
        rows.append(
            [
                dataset,
                f"{100 * r['accuracy']:.2f} %",
                f"{r['train_seconds']:.0f}",
                "yes" if r["train_seconds"] <= BUDGET_SECONDS else "NO",
                r["epochs"],
                f"{r['params']:,}",
                f"{r['forward_flops'] / 1e6:.1f}",
                f"{achieved / 1e9:.2f}",
                f"{100 * achieved / peak:.1f} %",
            ]
        )
        print(rows[-1], r["epoch_seconds"], flush=True)
    table = markdown_table(
        [
            "dataset",
            "test accuracy (10k)",
            "train seconds",
            f"within {BUDGET_SECONDS} s",
            "epochs",
            "parameters",
            "forward MFLOP/image",
            "training GFLOP/s",
            "share of matmul peak",
        ],
        rows,
    )
    table += f"\n\nMatmul peak measured in the same script: {peak / 1e9:.1f} GFLOP/s (float32, 2048^3, all cores)."
    print(table)
    if not args.no_write:
        append_section("ViT: `vit` pipeline defaults, 10-minute budget", table)


if __name__ == "__main__":
    main()
