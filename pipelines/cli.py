"""The `pipelines` command.

    pipelines list
    pipelines run NAME [--epochs N] [--set key=value]... [--data-dir D] [--out DIR]
                       [--device auto|cpu|gpu|gpu:0,1] [--seed S] [--quiet]
                       [--fallback-dataset NAME]
                       [--workers HOST:PORT,HOST:PORT... --worker-index I]
    pipelines evaluate NAME --model PATH [--out DIR]
    pipelines config NAME
    pipelines compare RUN_DIR RUN_DIR... [--out DIR]
    pipelines reports [DIR]

Bad input exits with status 2 and one line on stderr (`--debug` shows the traceback); a run
that starts but diverges (or loses a worker of its cluster) exits with status 1 the same way,
after writing its failed report.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pipelines import registry
from pipelines.errors import ClusterError, ConfigError, ExportError, PipelinesError, TrainingDivergedError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, like every other bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pipelines", description="Named, well-evaluated Keras pipelines.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the pipelines")

    show = sub.add_parser("config", help="print a pipeline's config fields and defaults")
    show.add_argument("name")
    show.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="settings to resolve the values for (e.g. dataset=cifar10: that data's own defaults)",
    )

    run = sub.add_parser("run", help="train and evaluate a pipeline")
    run.add_argument("name")
    run.add_argument("--epochs", type=int)
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (repeatable; dotted keys for sections)",
    )
    run.add_argument("--data-dir")
    run.add_argument("--out")
    run.add_argument("--device")
    run.add_argument("--seed", type=int)
    run.add_argument("--fallback-dataset", help="dataset to run when the configured one is unavailable")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--workers",
        metavar="HOST:PORT,...",
        help="train on a cluster: every worker's host:port, the same list on each host (else TF_CONFIG)",
    )
    run.add_argument("--worker-index", type=int, metavar="I", help="this host's index in --workers; 0 is the chief")

    ev = sub.add_parser("evaluate", help="evaluate a saved model on a pipeline's test data")
    ev.add_argument("name")
    ev.add_argument("--model", required=True)
    ev.add_argument("--out")
    ev.add_argument("--data-dir")
    ev.add_argument("--device")
    ev.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ev.add_argument("--quiet", action="store_true")

    cmp = sub.add_parser("compare", help="compare runs evaluated on the same test set")
    cmp.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cmp.add_argument("--out", help="output directory (default: reports/compare/<timestamp>)")

    pred = sub.add_parser("predict", help="predict with a finished run on new inputs (images, texts, CSVs)")
    pred.add_argument("run_dir", metavar="RUN_DIR")
    pred.add_argument("inputs", nargs="*", metavar="INPUT", help="image files or folders, text files or CSVs")
    pred.add_argument("--out", help="output file (default: stdout)")
    pred.add_argument("--format", choices=("csv", "json"), default="csv")
    pred.add_argument("--batch-size", type=int, default=256)
    pred.add_argument("--text-column", help="sentiment: read the texts from this column of CSV inputs")
    pred.add_argument("--denoised", metavar="DIR", help="denoising_autoencoder: also write the denoised images here")

    smp = sub.add_parser("sample", help="generate images with a finished dcgan run")
    smp.add_argument("run_dir", metavar="RUN_DIR")
    smp.add_argument("-n", type=int, default=100, help="how many images (default: 100)")
    smp.add_argument("--labels", type=int, nargs="+", help="a conditional run's class of each image, or one for all")
    smp.add_argument("--seed", type=int, default=0, help="seed of the noise (default: 0)")
    smp.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")

    exp = sub.add_parser("export", help="export a finished run for serving (SavedModel, ONNX, LiteRT)")
    exp.add_argument("run_dir", metavar="RUN_DIR")
    exp.add_argument("--format", required=True, choices=("saved_model", "onnx", "litert"))
    exp.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder")

    tn = sub.add_parser("tune", help="search a pipeline's config with Optuna: each trial a run, the best run again")
    tn.add_argument("name")
    tn.add_argument("--trials", type=int, default=20, help="trials the study should have finished (default: 20)")
    tn.add_argument("--timeout", type=float, metavar="SECONDS", help="start no trial after this long")
    tn.add_argument(
        "--space",
        dest="spaces",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="search a field: log:LOW:HIGH, float:LOW:HIGH, int:LOW:HIGH or choice:A,B,... (repeatable)",
    )
    tn.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="fix a field")
    tn.add_argument("--metric", help="NAME or NAME:maximize|minimize (default: the pipeline's)")
    tn.add_argument("--out", metavar="DIR", help="the study folder (resumed if it holds this study)")
    tn.add_argument(
        "--storage", metavar="URL", help="an Optuna RDB URL several processes share (default: DIR/study.db)"
    )
    tn.add_argument(
        "--heartbeat",
        type=int,
        default=5,
        metavar="SECONDS",
        help="a trial silent for 4x this long (its process died) is failed and tried again (default: 5)",
    )
    tn.add_argument("--quiet", action="store_true", help="no line per trial")

    idx = sub.add_parser("reports", help="write an index page of every run under a reports directory")
    idx.add_argument("directory", nargs="?", default="reports", metavar="DIR")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Collects flags and --set pairs as strings; the config parses them by field type."""
    from pipelines.config import parse_assignment
    from pipelines.errors import ConfigError

    values: dict[str, Any] = {}
    given_as: dict[str, str] = {}

    def put(key: str, value: str, spelled: str) -> None:
        # A key given twice is refused rather than the last one silently winning.
        if key in values:
            raise ConfigError(f"{key} is given twice ({given_as[key]} and {spelled}); give it once.")
        values[key], given_as[key] = value, spelled

    for text in args.sets:
        key, value = parse_assignment(text)
        put(key, value, f"--set {text}")
    for flag, key in (
        ("epochs", "epochs"),
        ("data_dir", "data_dir"),
        ("out", "out"),
        ("device", "device"),
        ("seed", "seed"),
        ("fallback_dataset", "fallback_dataset"),
        ("workers", "workers"),
        ("worker_index", "worker_index"),
    ):
        given = getattr(args, flag, None)
        if given is not None:
            put(key, str(given), f"--{flag.replace('_', '-')} {given}")
    if getattr(args, "quiet", False):
        values["verbose"] = "0"
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status."""
    # TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) is not for CLI users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (PipelinesError, OSError) as e:
        if args.debug:
            raise
        message = " ".join(str(e).split())
        print(f"pipelines: error: {message}", file=sys.stderr)
        # 2 is bad input (nothing ran); 1 a run that ran and failed (its report says so).
        return 1 if isinstance(e, (TrainingDivergedError, ClusterError, ExportError)) else 2
    except KeyboardInterrupt:
        print("pipelines: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "list":
        for name in registry.list_pipelines():
            print(name)
        return 0
    if args.command == "compare":
        from pipelines.evaluation.compare import compare_runs
        from pipelines.runner import make_run_dir

        if len(args.run_dirs) < 2:  # checked before creating the output directory
            from pipelines.errors import ComparisonError

            raise ComparisonError(f"expected at least two run directories. Received: {len(args.run_dirs)}.")
        page = compare_runs(args.run_dirs, make_run_dir(args.out, "compare"))
        print(f"Comparison: {page.resolve()}")
        return 0
    if args.command == "predict":
        from pipelines.predict_cli import predict_rows, write_rows
        from pipelines.quiet_import import load_tensorflow

        if args.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1. Received: {args.batch_size}")
        load_tensorflow(list_devices=False)
        rows = predict_rows(
            args.run_dir,
            args.inputs,
            batch_size=args.batch_size,
            text_column=args.text_column,
            denoised_dir=args.denoised,
        )
        write_rows(rows, args.out, args.format)
        return 0
    if args.command == "sample":
        from pipelines.predict_cli import write_samples
        from pipelines.quiet_import import load_tensorflow

        load_tensorflow(list_devices=False)
        print(f"Samples: {write_samples(args.run_dir, args.n, args.out, labels=args.labels, seed=args.seed).resolve()}")
        return 0
    if args.command == "export":
        from pipelines.export import export_run
        from pipelines.quiet_import import load_tensorflow

        load_tensorflow(list_devices=False)
        print(f"Exported: {export_run(args.run_dir, args.format, args.out).resolve()}")
        return 0
    if args.command == "tune":
        return _tune(args)
    if args.command == "reports":
        from pipelines.evaluation.runs_index import write_index

        print(f"Index: {write_index(args.directory).resolve()}")
        return 0
    registry.check_name(args.name)  # fail fast, before TensorFlow loads
    from pipelines.data_defaults import resolve_config
    from pipelines.quiet_import import load_tensorflow

    load_tensorflow(list_devices=args.command != "config")

    task = registry.get_task(args.name)
    config = resolve_config(task, _overrides(args), from_strings=True)
    if args.command == "config":
        _print_config(task, config)
        return 0
    from pipelines import runner

    if args.command == "run":
        result = runner.run(config)
    else:
        result = runner.evaluate(args.name, args.model, **_config_fields(config))
    if config.verbose:  # a verbose run printed it already, after its metrics
        return 0
    if result.report_dir is None:  # a non-chief worker of a cluster: it writes nothing
        print("Worker done; the chief writes the report.")
    else:
        print(f"Report: {(result.report_dir / 'report.html').resolve()}")
    return 0


def _pairs(texts: Sequence[str], flag: str) -> dict[str, str]:
    """`KEY=VALUE` texts as a dict; a key given twice is refused rather than the last one winning."""
    from pipelines.config import parse_assignment

    pairs: dict[str, str] = {}
    for text in texts:
        key, value = parse_assignment(text)
        if key in pairs:
            raise ConfigError(f"{key} is given twice ({flag} {key}={pairs[key]} and {flag} {text}); give it once.")
        pairs[key] = value
    return pairs


def _tune(args: argparse.Namespace) -> int:
    """`pipelines tune`: the settings parsed by field type, then the study; prints where its report is."""
    from pipelines.config import field_value
    from pipelines.data_defaults import resolve_config
    from pipelines.quiet_import import load_tensorflow
    from pipelines.tuning.study import tune

    registry.check_name(args.name)
    sets, spaces = _pairs(args.sets, "--set"), _pairs(args.spaces, "--space")
    if args.quiet:
        sets["verbose"] = "0"
    load_tensorflow(list_devices=False)
    config = resolve_config(registry.get_task(args.name), sets, from_strings=True)
    typed = {key: field_value(config, key) for key in sets}
    result = tune(
        args.name,
        trials=args.trials,
        timeout=args.timeout,
        space=spaces,
        metric=args.metric,
        out=args.out,
        storage=args.storage,
        heartbeat_seconds=args.heartbeat,
        **typed,
    )
    metric, _ = result.metric
    print(f"Best {metric}: {result.best_value:.6g} with {result.best_params}")
    print(f"Study report: {(result.study_dir / 'report.html').resolve()}")
    return 0


def _print_config(task: registry.Task, config: Any) -> None:
    """One line per field: key, type, value (the default, unless --set or the data chose it), doc."""
    from pipelines.config import field_docs, field_value

    for key, type_name, default, doc in field_docs(task.config_cls):
        value = field_value(config, key)
        mark = "" if value == default else f" (default {default!r})"
        print(f"{key:28} {type_name:18} {value!r:20} {doc}{mark}")


def _config_fields(config: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
