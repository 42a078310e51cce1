"""A small mutation check: does the test suite fail when the core code is wrong?

Each mutant plants one deliberate, plausible bug (a swapped metric argument, a skipped
checksum, a leaky split, a non-atomic write, a wrong output activation, an unsafe model
load, ...) by exact text replacement, runs the fast tests that cover that code, and
reports whether they failed. Every mutant should be "caught"; a "SURVIVED" mutant is a
hole in the suite: add the test that would have failed, never weaken the mutant.

The checkout is never modified: `pipelines/` and `tests/` are snapshotted into a
temporary folder once, each mutant gets its own fresh copy of that snapshot, and pytest
runs there with PYTHONPATH pointing at the copy (checked before anything runs, since the
virtualenv also holds an editable install of the checkout).

Run from the repository root (about 3 minutes on two busy cores; not part of CI):

    .venv/bin/python tests/mutants.py               # every mutant
    .venv/bin/python tests/mutants.py --list        # names, files and selected tests
    .venv/bin/python tests/mutants.py checksum atomic   # a subset, by name or name prefix

Exit status: 0 if every mutant was caught, 1 otherwise (survivor, error or timeout), 2 if
the unmutated baseline fails or a mutant name is unknown.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pytest's config lives in setup.cfg ([tool:pytest]: markers, --strict-markers), ruff's in pyproject.
COPIED = ("pipelines", "tests", "setup.cfg", "pyproject.toml")
# Only unit tests: a slow or real-data test deselected here makes pytest exit 5, reported as an error.
MARKERS = "not slow and not realdata and not browser"
# setup.cfg's --durations=30 lines, left out of the output shown for a mutant.
DURATION = re.compile(r"^\s*[\d.]+s (setup|call|teardown) ")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    tests: tuple[str, ...]  # pytest node ids or files
    why: str


MUTANTS = (
    Mutant("r2_swapped", "pipelines/evaluation/regression.py", "skm.r2_score(y_true, y_pred)",
           "skm.r2_score(y_pred, y_true)", ("tests/test_evaluation_regression.py",),
           "R2 is not symmetric: the arguments in the wrong order score the wrong baseline"),
    Mutant("binary_threshold_exclusive", "pipelines/evaluation/classification.py", "(score >= threshold)",
           "(score > threshold)", ("tests/test_evaluation_classification.py",),
           "a score equal to the threshold must count as positive (documented and chosen by best_f1_threshold)"),
    Mutant("checksum_size_only", "pipelines/inputs/checksums.py", "if digest.hexdigest() != entry.sha256:",
           "if size != entry.size:", ("tests/test_inputs_sources.py",),
           "a cheap size check instead of the sha256 lets same-length tampered files through"),
    Mutant("checksum_of_compressed", "pipelines/inputs/checksums.py", "digest = hashlib.sha256(data).hexdigest()",
           "digest = hashlib.sha256(path.read_bytes()).hexdigest()", ("tests/test_inputs_sources.py",),
           "the manifest holds the sha256 of the decompressed content, not of the .gz bytes"),
    Mutant("split_not_stratified", "pipelines/inputs/splits.py", "random_state=int(seed), stratify=y",
           "random_state=int(seed)", ("tests/test_inputs_mnist.py::test_train_val_split_is_stratified_and_seeded",),
           "without stratify a small class can be missing from validation"),
    Mutant("split_group_leak", "pipelines/inputs/splits.py", "return x[fit], y[fit], x[val], y[val]",
           "return x, y, x[val], y[val]", ("tests/test_inputs_text_groups.py",),
           "training on every row puts the validation groups into the training set"),
    Mutant("atomic_direct_write", "pipelines/atomic.py",
           "    with atomic_path(path) as tmp:\n        tmp.write_bytes(data)", "    Path(path).write_bytes(data)",
           ("tests/test_reliability.py::test_an_interrupted_report_write_leaves_no_report_json",
            "tests/test_reliability.py::test_sigkill_during_report_writes_never_leaves_a_partial_report",
            "tests/test_evaluation_report.py::test_write_writes_every_file_atomically"),
           "writing straight to the final name leaves a half-written file when interrupted"),
    Mutant("atomic_no_cleanup_on_interrupt", "pipelines/atomic.py", "except BaseException:", "except Exception:",
           ("tests/test_reliability.py::test_an_interrupted_report_write_leaves_no_report_json",
            "tests/test_reliability.py::test_an_interrupted_model_save_leaves_no_model_keras"),
           "Ctrl-C (KeyboardInterrupt is not an Exception) would leave .tmp-* files behind"),
    Mutant("dcgan_sigmoid_output", "pipelines/nets/gan_networks.py", 'layers.Activation("tanh", dtype="float32"',
           'layers.Activation("sigmoid", dtype="float32"', ("tests/test_nets_gan.py",),
           "the generator must cover [-1, 1] like the scaled images; sigmoid only reaches [0, 1]"),
    Mutant("safe_mode_off", "pipelines/models.py", "custom_objects=custom_objects, safe_mode=True)",
           "custom_objects=custom_objects, safe_mode=False)",
           ("tests/test_models.py", "tests/test_reliability.py::test_cli_evaluate_refuses_a_model_with_a_lambda_layer"),
           "a .keras file with a Lambda layer would run code from the file"),
    Mutant("bootstrap_resample_off_by_one", "pipelines/evaluation/bootstrap.py", "integers(0, n, size=",
           "integers(0, n - 1, size=", ("tests/test_evaluation_bootstrap.py",),
           "numpy's integers() excludes `high`: n - 1 never draws the last test item"),
    Mutant("config_nested_unvalidated", "pipelines/config.py",
           '            _validate(value, prefix=name + ".")\n            continue', "            continue",
           ("tests/test_config.py", "tests/test_reliability.py::test_bad_name_or_config"),
           "bounds of nested sections (augment.rotation <= 0.5, ...) would never be checked"),
)  # fmt: skip


def child_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The copy first, so it shadows the editable install; no .pyc next to mutated sources.
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", PIPELINES_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PIPELINES_DATA_DIR", None)  # real-data tests stay skipped whatever the caller's shell exports
    return env


def make_copy(snapshot: Path, dest: Path) -> Path:
    shutil.copytree(snapshot, dest)
    probe = "import pipelines, pathlib; print(pathlib.Path(pipelines.__file__).resolve())"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=dest, env=child_env(dest), capture_output=True, text=True, timeout=300
    )
    imported = Path(done.stdout.strip() or "?")
    if done.returncode != 0 or not imported.is_relative_to(dest.resolve()):
        sys.exit(f"FATAL: the copy in {dest} is not what gets imported (pipelines.__file__={imported}). {done.stderr}")
    return dest


def apply(mutant: Mutant, copy: Path) -> None:
    target = copy / mutant.path
    text = target.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        raise LookupError(f"stale mutant: `old` occurs {count} times in {mutant.path}, expected exactly once")
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def pytest(copy: Path, tests: tuple[str, ...], timeout: float, stop_first: bool) -> tuple[int | None, str]:
    """Runs pytest in the copy; returns (exit code or None on timeout, the output's tail)."""
    first = ["-x"] if stop_first else []
    cmd = [sys.executable, "-m", "pytest", *first, "-q", "-p", "no:cacheprovider", "-m", MARKERS, *tests]
    # Own session, so a timeout can kill pytest and any process it spawned (its process group).
    proc = subprocess.Popen(
        cmd, cwd=copy, env=child_env(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out[-3000:] + f"\nkilled after {timeout:.0f} s"
    return proc.returncode, out[-3000:]


def verdict(code: int | None) -> str:
    # pytest: 1 = tests failed; 2 = interrupted/collection error; 3 = internal; 4 = usage; 5 = no tests.
    if code is None:
        return "TIMEOUT"
    return {0: "SURVIVED", 1: "caught"}.get(code, f"ERROR (pytest exit {code})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants (or name prefixes) to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per pytest run (default: 300)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pytest's output for every mutant")
    args = parser.parse_args(argv)
    # A name selects every mutant it prefixes, so `checksum` runs both checksum mutants.
    unknown = [n for n in args.names if not any(m.name.startswith(n) for m in MUTANTS)]
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; known: {', '.join(m.name for m in MUTANTS)}")
    selected = [m for m in MUTANTS if not args.names or any(m.name.startswith(n) for n in args.names)]
    if args.list:
        for m in selected:
            print(f"{m.name:32} {m.path}\n{'':32} {m.why}\n{'':32} tests: {' '.join(m.tests)}")
        return 0

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        # One snapshot, so files others edit mid-run cannot make baseline and mutants differ.
        snapshot = Path(tmp) / "snapshot"
        ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis", "*.pyc")
        snapshot.mkdir()
        for name in COPIED:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, snapshot / name, ignore=ignore)
            else:
                shutil.copy2(ROOT / name, snapshot / name)
        # Baseline: the union of the selections must pass unmutated, or a "caught" would mean nothing.
        union = tuple(dict.fromkeys(t for m in selected for t in m.tests))
        t0 = time.monotonic()
        code, out = pytest(make_copy(snapshot, Path(tmp) / "baseline"), union, args.timeout * 2, stop_first=False)
        print(f"baseline: {len(union)} selections, pytest exit {code}, {time.monotonic() - t0:.0f} s", flush=True)
        if code != 0:
            print(out, file=sys.stderr)
            print("ABORT: the selected tests fail (or time out) on the unmutated code.", file=sys.stderr)
            return 2

        rows: list[tuple[str, str, str, float]] = []
        for i, mutant in enumerate(selected):
            t0 = time.monotonic()
            copy = make_copy(snapshot, Path(tmp) / f"m{i}")
            try:
                apply(mutant, copy)
            except LookupError as err:
                result, out = "ERROR (stale mutant)", str(err)
            else:
                code, out = pytest(copy, mutant.tests, args.timeout, stop_first=True)
                result = verdict(code)
            shutil.rmtree(copy, ignore_errors=True)
            rows.append((mutant.name, mutant.path, result, time.monotonic() - t0))
            # -ra (setup.cfg) lists the failed tests; the first one is the test that caught the bug.
            lines = [line for line in out.strip().splitlines() if not DURATION.match(line)]
            killer = next((line.split(" - ")[0] for line in lines if line.startswith("FAILED ")), "")
            print(f"  {mutant.name}: {result} ({rows[-1][3]:.0f} s) {killer}", flush=True)
            if args.verbose or result != "caught":
                print("    " + "\n    ".join(lines[-15:]), flush=True)

    print(f"\n{'mutant':32} {'file':40} {'result':24} {'seconds':>7}")
    for name, path, result, secs in rows:
        print(f"{name:32} {path:40} {result:24} {secs:7.1f}")
    bad = [r for r in rows if r[2] != "caught"]
    print(f"\n{len(rows) - len(bad)}/{len(rows)} caught in {time.monotonic() - start:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
