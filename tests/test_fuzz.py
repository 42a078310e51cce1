"""Fuzzing (docs/reliability.md): the config parser, the `--set` parser and the CSV/text readers
raise only the package's own errors, whatever they are fed.

Each test counts its examples into FUZZ_COUNTS, so the catalogue's "bad inputs tried" is measured.
A refusal passes a fuzz test, so a reader that refused everything would pass them all: the
positive controls feed each target good input through the same calls and check what comes back.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipelines.config import apply_overrides, field_docs, parse_assignment  # noqa: E402
from pipelines.errors import PipelinesError  # noqa: E402
from pipelines.tasks.advertising import AdvertisingConfig  # noqa: E402
from pipelines.tasks.mnist import MnistConfig  # noqa: E402

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_COUNTS: collections.Counter[str] = collections.Counter()
FUZZ_ACCEPTED: collections.Counter[str] = collections.Counter()
_file_ids = itertools.count()

MNIST_KEYS = [key for key, *_ in field_docs(MnistConfig)]
ADVERTISING_KEYS = [key for key, *_ in field_docs(AdvertisingConfig)]
KEYS = st.one_of(
    st.sampled_from(MNIST_KEYS),
    st.text(max_size=12),
    st.builds(lambda k, s: k + s, st.sampled_from(MNIST_KEYS), st.text(max_size=4)),
)
VALUE_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["-1", "0", "1e309", "nan", "inf", "-inf", "None", "true", "1,2", ",", "1.5", "", " 3 "]),
    st.integers().map(str),
    st.floats().map(repr),
)
PY_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(max_size=6), inner, max_size=2)
    ),
    max_leaves=6,
)


def _only_our_errors(call, target: str) -> None:
    try:
        call()
    except PipelinesError:
        return  # a typed, explained refusal is the expected outcome for bad input
    FUZZ_ACCEPTED[target] += 1


@FUZZ
@given(st.text(max_size=40))
def test_set_parser(text):
    FUZZ_COUNTS["--set parser"] += 1
    _only_our_errors(lambda: parse_assignment(text), "--set parser")


@FUZZ
@given(KEYS, VALUE_TEXT)
def test_config_parser_from_command_line_strings(key, value):
    FUZZ_COUNTS["config parser (strings)"] += 1

    def call():
        config = apply_overrides(MnistConfig(), {key: value}, from_strings=True)
        assert dataclasses.is_dataclass(config)

    _only_our_errors(call, "config parser (strings)")


@FUZZ
@given(st.dictionaries(st.sampled_from(ADVERTISING_KEYS + MNIST_KEYS), PY_VALUES, max_size=3))
def test_config_parser_from_python_values(overrides):
    FUZZ_COUNTS["config parser (Python values)"] += 1
    _only_our_errors(lambda: apply_overrides(AdvertisingConfig(), overrides), "config parser (Python values)")


CSV_CELLS = st.one_of(st.text(max_size=8), st.sampled_from(["1", "2.5", "-3", "nan", "inf", "", '"', "a,b", "1e400"]))
CSV_TEXT = st.lists(st.lists(CSV_CELLS, min_size=0, max_size=5), max_size=6).map(
    lambda rows: "\n".join(",".join(row) for row in rows)
)
CSV_BYTES = st.one_of(
    st.binary(max_size=200),
    CSV_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
    CSV_TEXT.map(lambda t: ("TV,radio,newspaper,sales\n" + t).encode("utf-8", "surrogatepass")),
    CSV_TEXT.map(lambda t: ("text,label\n" + t).encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(fuzz_dir, data: bytes, suffix: str = ".csv"):
    path = fuzz_dir / f"{next(_file_ids)}{suffix}"
    path.write_bytes(data)
    return path


@FUZZ
@given(data=CSV_BYTES)
def test_tabular_csv_reader(fuzz_dir, data):
    from pipelines.inputs.tabular import read_csv, validate_frame

    FUZZ_COUNTS["tabular CSV reader"] += 1
    path = _write(fuzz_dir, data)
    _only_our_errors(
        lambda: validate_frame(read_csv(path), ["TV", "radio", "newspaper"], "sales", with_budget_check=True),
        "tabular CSV reader",
    )


@FUZZ
@given(data=CSV_BYTES, gz=st.booleans(), encoding=st.sampled_from(["utf-8", "latin-1", "ascii"]))
def test_text_csv_reader(fuzz_dir, data, gz, encoding):
    import gzip

    from pipelines.inputs.text import load_csv

    FUZZ_COUNTS["text CSV reader"] += 1
    # Half the .gz files are real gzip, half are plain bytes misnamed .gz (a corrupt archive).
    path = _write(fuzz_dir, gzip.compress(data) if gz and data[:1] != b"x" else data, ".csv.gz" if gz else ".csv")
    _only_our_errors(lambda: load_csv(path, "text", "label", encoding=encoding), "text CSV reader")


@FUZZ
@given(
    texts=st.lists(st.one_of(st.text(max_size=10), st.none(), st.integers(), st.binary(max_size=4)), max_size=5),
    labels=st.lists(st.one_of(st.integers(-2, 3), st.text(max_size=3), st.floats(), st.booleans()), max_size=5),
)
def test_text_checker(texts, labels):
    from pipelines.inputs.text import check_texts_and_labels

    FUZZ_COUNTS["texts and labels checker"] += 1
    _only_our_errors(lambda: check_texts_and_labels(texts, labels), "texts and labels checker")


def test_positive_controls_each_target_accepts_good_input(tmp_path):
    from pipelines.inputs.tabular import read_csv, validate_frame
    from pipelines.inputs.text import check_texts_and_labels, load_csv

    assert parse_assignment("epochs=3") == ("epochs", "3")
    assert apply_overrides(MnistConfig(), {"epochs": "3", "augment.zoom": "0.2"}, from_strings=True).epochs == 3
    assert apply_overrides(AdvertisingConfig(), {"epochs": 7, "seed": 2}).epochs == 7
    table = tmp_path / "ads.csv"
    table.write_text("TV,radio,newspaper,sales\n230.1,37.8,69.2,22.1\n44.5,39.3,45.1,10.4\n")
    data = validate_frame(read_csv(table), ["TV", "radio", "newspaper"], "sales", with_budget_check=True)
    assert data.x.shape == (2, 3) and list(data.y) == [22.1, 10.4]
    texts = tmp_path / "texts.csv"
    texts.write_text('text,label\n"good, really",1\nbad film,0\n')
    loaded = load_csv(texts, "text", "label")
    assert list(loaded.texts_train) == ["good, really", "bad film"] and list(loaded.y_train) == [1, 0]
    checked_texts, checked_labels, _ = check_texts_and_labels(["good", "bad"], [1, 0])
    assert list(checked_texts) == ["good", "bad"] and list(checked_labels) == [1, 0]


def test_fuzz_counts_are_reported(capsys):
    """Runs last in this module: prints how many inputs each fuzz target was fed."""
    if not FUZZ_COUNTS:
        pytest.skip("run with the fuzz tests to count their examples")
    with capsys.disabled():
        print("\nfuzz examples:", dict(FUZZ_COUNTS), "total", sum(FUZZ_COUNTS.values()))
        print("of which accepted:", dict(FUZZ_ACCEPTED))
    assert all(n >= 50 for n in FUZZ_COUNTS.values())
