"""Tests of pipelines.inputs.text: the IMDB, MR, custom and CSV readers and their checks.

Tiny files in tmp_path with a patched manifest cover the readers; the real IMDB and MR
(from PIPELINES_DATA_DIR) are checked by the `realdata` tests.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from pipelines.errors import ChecksumMismatch, ConfigError, DatasetUnavailable, DataValidationError
from pipelines.inputs import manifest as manifest_module
from pipelines.inputs.manifest import parse_manifest
from pipelines.inputs.text import (
    TextData,
    check_texts_and_labels,
    load_csv,
    load_custom,
    load_imdb,
    load_mr,
    strip_html,
)

# Latin-1 bytes: 0xe9 is "é"; 0x85 is an ellipsis in cp1252 and U+0085 (NEL) in Latin-1.
MR_POS = b"a caf\xe9 of a film .\nwarm\x85 and wise .\nsmart , funny .\n"
MR_NEG = b"dull .\nno sto\xe9ry at all .\n"
IMDB_TRAIN = (
    'text,label\n"Awful.<br /><br />Truly, awful.",0\nMeh film,0\n"Loved it, ""really"" loved it",1\nGreat<br />fun,1\n'
)
IMDB_TEST = 'text,label\nBoring,0\n"Fine, fine",1\n'
IMDB_TRAIN_BYTES, IMDB_TEST_BYTES = IMDB_TRAIN.encode(), IMDB_TEST.encode()


@pytest.fixture
def patched_manifest(monkeypatch):
    """Makes the manifest's `sentiment_mr` and `imdb` entries match the given contents."""
    monkeypatch.delenv("PIPELINES_DATA_DIR", raising=False)

    def patch(mr=(MR_POS, MR_NEG), imdb=(IMDB_TRAIN_BYTES, IMDB_TEST_BYTES)):
        def entry(name, data, gz=False):
            return {
                "name": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "decompress": "gzip" if gz else "none",
            }

        manifest = parse_manifest(
            {
                "datasets": {
                    "sentiment_mr": {
                        "subdir": "sentiment",
                        "files": [entry("rt-polarity.pos", mr[0]), entry("rt-polarity.neg", mr[1])],
                    },
                    "imdb": {
                        "subdir": "sentiment/imdb",
                        "files": [entry("train.csv.gz", imdb[0], gz=True), entry("test.csv.gz", imdb[1], gz=True)],
                    },
                }
            }
        )
        monkeypatch.setattr(manifest_module, "default_manifest", lambda: manifest)

    return patch


def _write_mr(root: Path, pos: bytes = MR_POS, neg: bytes = MR_NEG) -> Path:
    folder = root / "sentiment"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rt-polarity.pos").write_bytes(pos)
    (folder / "rt-polarity.neg").write_bytes(neg)
    return folder


def _write_imdb_csv(root: Path, train: str = IMDB_TRAIN, test: str = IMDB_TEST) -> Path:
    folder = root / "sentiment" / "imdb"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.csv.gz").write_bytes(gzip.compress(train.encode()))
    (folder / "test.csv.gz").write_bytes(gzip.compress(test.encode()))
    return folder


def _write_acl(root: Path, reviews: dict[str, dict[str, bytes]] | None = None) -> Path:
    folder = root / "aclImdb"
    reviews = reviews or {
        "train/pos": {"10_8.txt": b"Ten stars.<br />Great", "2_7.txt": b"Good fun"},
        "train/neg": {"0_1.txt": b"Awful", "1_3.txt": b"Bad"},
        "test/pos": {"0_9.txt": b"Lovely"},
        "test/neg": {"0_2.txt": b"Dire"},
    }
    for sub, files in reviews.items():
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / sub / name).write_bytes(data)
    return folder


# ----------------------------------------------------------------------------- MR


def test_load_mr_decodes_latin1_and_keeps_lines(patched_manifest, tmp_path):
    patched_manifest()
    folder = _write_mr(tmp_path)

    data = load_mr(tmp_path)

    assert isinstance(data, TextData) and data.texts_test is None and data.y_test is None
    # Negatives first; U+0085 (Latin-1's 0x85) did not split "warm... and wise".
    assert data.texts_train.tolist() == [
        "dull .",
        "no sto\xe9ry at all .",
        "a caf\xe9 of a film .",
        "warm\x85 and wise .",
        "smart , funny .",
    ]
    assert data.y_train.tolist() == [0, 0, 1, 1, 1] and data.y_train.dtype == np.int64
    assert data.class_names == ["negative", "positive"]
    assert data.info["encoding"] == "latin-1" and data.info["checksum_verified"] is True
    assert data.info["class_counts"] == {"train": [2, 3]}
    assert data.info["source"] == str(folder) and "10-fold" in data.info["evaluation"]


def test_load_mr_encoding_is_configurable(patched_manifest, tmp_path):
    patched_manifest()
    _write_mr(tmp_path)

    data = load_mr(tmp_path / "sentiment", encoding="cp1252")

    assert "warm\u2026 and wise ." in data.texts_train.tolist()


def test_load_mr_names_the_file_line_and_byte_it_cannot_decode(patched_manifest, tmp_path):
    patched_manifest()
    _write_mr(tmp_path)

    with pytest.raises(
        DataValidationError,
        match=r"rt-polarity\.neg is not valid utf-8: byte 0xe9 at line 2, "
        r"column 7 .*Pass encoding= .*encoding='latin-1'",
    ):
        load_mr(tmp_path, encoding="utf-8")


def test_load_mr_rejects_empty_lines(patched_manifest, tmp_path):
    neg = b"dull .\n \n\nbad .\n"
    patched_manifest(mr=(MR_POS, neg))
    _write_mr(tmp_path, neg=neg)

    with pytest.raises(
        DataValidationError,
        match=r"rt-polarity\.neg\. Received 2 empty or whitespace-only lines, "
        r"at line \[2, 3\]",
    ):
        load_mr(tmp_path)


def test_load_mr_rejects_an_unknown_encoding(patched_manifest, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown encoding\. Received: encoding='latin-9x'"):
        load_mr(tmp_path, encoding="latin-9x")


def test_load_mr_checks_the_manifest(patched_manifest, tmp_path):
    patched_manifest()
    _write_mr(tmp_path, pos=MR_POS.replace(b"warm", b"cold"))

    with pytest.raises(ChecksumMismatch, match=r"rt-polarity\.pos does not match"):
        load_mr(tmp_path)


def test_load_mr_missing_files(patched_manifest, tmp_path):
    patched_manifest()
    with pytest.raises(DatasetUnavailable, match=r"rt-polarity\.pos"):
        load_mr(tmp_path)


# ----------------------------------------------------------------------------- IMDB


def test_load_imdb_reads_the_checked_csv_files(patched_manifest, tmp_path):
    patched_manifest()
    folder = _write_imdb_csv(tmp_path)

    data = load_imdb(tmp_path)

    assert data.texts_train.tolist() == [
        "Awful.<br /><br />Truly, awful.",
        "Meh film",
        'Loved it, "really" loved it',
        "Great<br />fun",
    ]
    assert data.y_train.tolist() == [0, 0, 1, 1] and data.y_test.tolist() == [0, 1]
    assert data.texts_test.tolist() == ["Boring", "Fine, fine"]
    assert data.info["splits"] == {"train": 4, "test": 2}
    assert data.info["class_counts"] == {"train": [2, 2], "test": [1, 1]}
    assert data.info["checksum_verified"] is True and data.info["resolved_by"] == "argument"
    assert data.info["source"] == str(folder)


def test_load_imdb_finds_the_csv_files_through_the_environment(patched_manifest, tmp_path, monkeypatch):
    patched_manifest()
    _write_imdb_csv(tmp_path)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))

    assert load_imdb().info["resolved_by"] == "env"


def test_load_imdb_rejects_a_label_other_than_0_1(patched_manifest, tmp_path):
    train = IMDB_TRAIN + "Odd one,2\n"
    patched_manifest(imdb=(train.encode(), IMDB_TEST.encode()))
    _write_imdb_csv(tmp_path, train=train)

    with pytest.raises(
        DataValidationError,
        match=r"expected labels 0/1 .* in .*train\.csv\.gz\. Received 1 other "
        r"labels, e\.g\. '2' at row \[4\]",
    ):
        load_imdb(tmp_path)


def test_load_imdb_reads_an_acl_imdb_folder(tmp_path):
    folder = _write_acl(tmp_path)

    data = load_imdb(tmp_path)

    # Negatives then positives, each by numeric review id (2 before 10), as in the CSVs.
    assert data.texts_train.tolist() == ["Awful", "Bad", "Good fun", "Ten stars.<br />Great"]
    assert data.y_train.tolist() == [0, 0, 1, 1]
    assert data.texts_test.tolist() == ["Dire", "Lovely"] and data.y_test.tolist() == [0, 1]
    assert data.info["resolved_by"] == "aclImdb" and data.info["checksum_verified"] is False
    assert data.info["source"] == str(folder)
    assert load_imdb(folder).texts_train.tolist() == data.texts_train.tolist()


def test_load_imdb_finds_acl_imdb_under_the_data_dir_env(tmp_path, monkeypatch):
    _write_acl(tmp_path / "sentiment" / "imdb")
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))

    assert load_imdb().info["resolved_by"] == "aclImdb"


def test_load_imdb_acl_undecodable_file_is_named(tmp_path):
    reviews = {
        "train/pos": {"0_9.txt": b"Good"},
        "train/neg": {"0_1.txt": b"Bad \xff"},
        "test/pos": {"0_9.txt": b"Fine"},
        "test/neg": {"0_2.txt": b"Dire"},
    }
    _write_acl(tmp_path, reviews)

    with pytest.raises(
        DataValidationError,
        match=r"train/neg/0_1\.txt is not valid utf-8: "
        r"byte 0xff at line 1, column 5",
    ):
        load_imdb(tmp_path)
    assert load_imdb(tmp_path, encoding="latin-1").texts_train[0] == "Bad \xff"


def test_load_imdb_acl_incomplete_folder(tmp_path):
    reviews = {"train/pos": {"0_9.txt": b"Good"}, "train/neg": {"0_1.txt": b"Bad"}, "test/pos": {"0_9.txt": b"Fine"}}
    _write_acl(tmp_path, reviews)

    with pytest.raises(DatasetUnavailable, match=r"no reviews in .*test/neg"):
        load_imdb(tmp_path)


def test_load_imdb_acl_empty_review(tmp_path):
    reviews = {
        "train/pos": {"0_9.txt": b"Good", "1_8.txt": b"  \n"},
        "train/neg": {"0_1.txt": b"Bad"},
        "test/pos": {"0_9.txt": b"Fine"},
        "test/neg": {"0_2.txt": b"Dire"},
    }
    _write_acl(tmp_path, reviews)

    with pytest.raises(DataValidationError, match=r"Received 1 empty files: \[1_8\.txt\]"):
        load_imdb(tmp_path)


@pytest.fixture
def fake_tfds(monkeypatch):
    """A stand-in for tensorflow_datasets that records its calls (no network)."""
    calls = []

    def load(name, split, as_supervised, batch_size, data_dir):
        calls.append((name, split, as_supervised, batch_size))
        texts = {"train": [b"great", b"awful", "good"], "test": [b"fine", b"bad"]}[split]
        labels = {"train": [1, 0, 1], "test": [1, 0]}[split]
        return np.array(texts, dtype=object), np.array(labels)

    module = types.SimpleNamespace(load=load, as_numpy=lambda tree: tree)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    return calls


def test_load_imdb_falls_back_to_tfds_only_online(fake_tfds, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))  # holds nothing
    monkeypatch.delenv("PIPELINES_OFFLINE")

    data = load_imdb()

    assert [c[:2] for c in fake_tfds] == [("imdb_reviews", "train"), ("imdb_reviews", "test")]
    assert data.texts_train.tolist() == ["great", "awful", "good"]
    assert data.y_train.tolist() == [1, 0, 1] and data.y_test.tolist() == [1, 0]
    assert data.info["resolved_by"] == "tensorflow_datasets"
    assert data.info["checksum_verified"] is False


@pytest.mark.parametrize(
    "offline, kwargs, reason",
    [
        (True, {}, "PIPELINES_OFFLINE is set"),
        (False, {"download": False}, "download=False"),
    ],
)
def test_load_imdb_does_not_try_tfds_offline(fake_tfds, tmp_path, monkeypatch, offline, kwargs, reason):
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))
    if not offline:
        monkeypatch.delenv("PIPELINES_OFFLINE")

    with pytest.raises(DatasetUnavailable, match=rf"(?s)train\.csv\.gz.*aclImdb.*not tried: {reason}"):
        load_imdb(**kwargs)
    assert fake_tfds == []


def test_load_imdb_with_data_dir_never_tries_tfds(fake_tfds, tmp_path, monkeypatch):
    monkeypatch.delenv("PIPELINES_OFFLINE")

    with pytest.raises(DatasetUnavailable, match=r"(?s)train\.csv\.gz.*Or put the aclImdb/ folder"):
        load_imdb(tmp_path)
    assert fake_tfds == []


def test_load_imdb_reports_a_failing_tfds(tmp_path, monkeypatch):
    def load(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setitem(sys.modules, "tensorflow_datasets", types.SimpleNamespace(load=load, as_numpy=lambda t: t))
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PIPELINES_OFFLINE")

    with pytest.raises(
        DatasetUnavailable,
        match=r"(?s)aclImdb.*tensorflow_datasets could not "
        r"load 'imdb_reviews': ConnectionError: no route",
    ):
        load_imdb()


def test_load_imdb_half_copied_csv_is_an_error_not_a_fallback(patched_manifest, fake_tfds, tmp_path, monkeypatch):
    patched_manifest()
    folder = _write_imdb_csv(tmp_path)
    (folder / "test.csv.gz").unlink()
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PIPELINES_OFFLINE")

    with pytest.raises(DatasetUnavailable, match="incomplete"):
        load_imdb()
    assert fake_tfds == []


# ----------------------------------------------------------------------------- custom


def test_load_custom_accepts_ints_floats_bools_and_class_names():
    assert load_custom(["a", "b"], [1, 0]).y_train.tolist() == [1, 0]
    assert load_custom(["a", "b"], np.array([1.0, 0.0])).y_train.tolist() == [1, 0]
    assert load_custom(["a", "b"], [True, False]).y_train.tolist() == [1, 0]
    data = load_custom(("good", "bad", "ok"), ["pos", "neg", 1], class_names=("neg", "pos"))
    assert data.y_train.tolist() == [1, 0, 1] and data.class_names == ["neg", "pos"]
    assert data.texts_train.dtype == object and data.info["class_counts"] == {"train": [1, 2]}


@pytest.mark.parametrize(
    "texts, labels, kwargs, error, match",
    [
        (
            ["a", "b", "c"],
            [0, 1],
            {},
            DataValidationError,
            r"one label per text in the data\. Received 3 texts and 2 labels",
        ),
        (
            ["a", "b", "c"],
            [0, 1, 2],
            {},
            DataValidationError,
            r"labels 0/1 \(0 = negative, 1 = positive\) in the data\. Received 1 other labels, "
            r"e\.g\. 2 at index \[2\]\. Fix or drop",
        ),
        (
            ["a", "b", "c"],
            ["neg", "pos", "neg"],
            {},
            DataValidationError,
            r"Received 3 other labels, e\.g\. 'neg' at index \[0, 1, 2\]\. Map them to 0/1, or pass "
            r"class_names=\[<label 0>, <label 1>\], e\.g\. class_names=\['neg', 'pos'\]",
        ),
        (
            ["a", "b"],
            ["neg", "neutral"],
            {"class_names": ["neg", "pos"]},
            DataValidationError,
            r"labels 0/1 or one of class_names \['neg', 'pos'\] in the data\. Received 1 other "
            r"labels, e\.g\. 'neutral' at index \[1\]",
        ),
        (
            ["a", "b", "c"],
            [1, 1, 1],
            {},
            DataValidationError,
            r"both classes in the data\. Received only label 1 \('positive'\) in all 3 examples\. "
            r"A classifier needs both: add examples of 'negative'",
        ),
        (
            ["a", None, b"c"],
            [0, 1, 0],
            {},
            DataValidationError,
            r"every text in the data to be a str\. Received 2 values of other types, e\.g\. None "
            r"\(NoneType\) at index \[1, 2\]",
        ),
        (["a", b"c"], [0, 1], {}, DataValidationError, r"b'c' \(bytes\) at index \[1\]; bytes: decode"),
        ([["a"], ["b"]], [0, 1], {}, DataValidationError, r"e\.g\. \['a'\] \(list\) at index \[0, 1\]"),
        ("a film", [1], {}, TypeError, r"sequence of texts\. Received a single str: 'a film'\. Wrap"),
        (
            ["a", "b"],
            [0, 1],
            {"class_names": ["pos"]},
            ConfigError,
            r"class_names to be two distinct non-empty strings.*Received: class_names=\['pos'\]",
        ),
        (["a", "b"], [0, 1], {"class_names": ["x", "x"]}, ConfigError, "two distinct"),
    ],
    ids=[
        "length",
        "label-2",
        "names-without-class-names",
        "unknown-name",
        "single-class",
        "non-str",
        "bytes",
        "nested-lists",
        "single-string",
        "one-class-name",
        "same-class-names",
    ],
)
def test_load_custom_rejects_bad_data(texts, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_custom(texts, labels, **kwargs)


def test_load_custom_accepts_pandas_columns():
    import pandas as pd

    frame = pd.DataFrame({"text": ["good", "bad"], "label": [1, 0]})
    data = load_custom(frame["text"], frame["label"])
    assert data.texts_train.tolist() == ["good", "bad"] and data.y_train.tolist() == [1, 0]
    assert all(type(t) is str for t in data.texts_train)


def test_empty_texts_are_counted_and_the_first_indices_named():
    texts = ["ok", "", " ", "fine", "\n\t", "", "", "", "", "good"]
    with pytest.raises(
        DataValidationError,
        match=r"non-empty texts\. Received 7 empty or whitespace-only texts in "
        r"the data, at index \[1, 2, 4, 5, 6, \.\.\. 2 more\]\. Drop",
    ):
        load_custom(texts, [0, 1] * 5)


def test_check_texts_and_labels_may_allow_a_single_class():
    x, y, names = check_texts_and_labels(["a", "b"], [1, 1], with_both_classes_check=False)
    assert y.tolist() == [1, 1] and x.tolist() == ["a", "b"] and names == ["negative", "positive"]


# ----------------------------------------------------------------------------- CSV


def test_load_csv_reads_quoted_fields_and_class_names(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,review,stars\n1,"Loved it, truly.\nTwo lines.",pos\n2,Meh,neg\n3,Fine,1\n', encoding="utf-8")

    data = load_csv(path, "review", "stars", class_names=["neg", "pos"])

    assert data.texts_train.tolist() == ["Loved it, truly.\nTwo lines.", "Meh", "Fine"]
    assert data.y_train.tolist() == [1, 0, 1] and data.class_names == ["neg", "pos"]
    assert data.info["columns"] == {"text": "review", "label": "stars"}


def test_load_csv_reads_gzip_and_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv.gz"
    path.write_bytes(gzip.compress("\ufefftext,label\ncafé,1\nbad,0\n".encode("utf-8")))

    data = load_csv(path, "text", "label")

    assert data.texts_train.tolist() == ["café", "bad"] and data.y_train.tolist() == [1, 0]


def test_load_csv_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\nok,0\nnaïve fun,1\n".encode("latin-1"))

    with pytest.raises(
        DataValidationError,
        match=r"latin\.csv is not valid utf-8: byte 0xef at line 3, column 3 "
        r"cannot be decoded .*Pass encoding=",
    ):
        load_csv(path, "text", "label")
    assert load_csv(path, "text", "label", encoding="latin-1").texts_train[1] == "naïve fun"


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", r"r\.csv is empty \(0 bytes\)"),
        (b"\n\n", r"r\.csv is empty \(2 bytes\)"),
        (b"text,label\n", r"expected data rows in .*r\.csv\. Received only the header \['text', 'label'\]"),
        (
            b"body,label\nhi,1\n",
            r"expected columns \['text', 'label'\] in .*r\.csv\. Received a table "
            r"without \['text'\]; its columns are \['body', 'label'\]\. Pass text_column=",
        ),
        (b'text,label\nhi,1\n"",0\nyo,0\n', r"1 empty or whitespace-only texts in .*r\.csv, at row \[1\]"),
        (b"text,label\nhi,1\nyo,yes\n", r"e\.g\. 'yes' at row \[1\]"),
    ],
    ids=["empty", "blank-lines", "header-only", "missing-column", "empty-text", "bad-label"],
)
def test_load_csv_rejects_bad_files(tmp_path, content, match):
    path = tmp_path / "r.csv"
    path.write_bytes(content)

    with pytest.raises(DataValidationError, match=match):
        load_csv(path, "text", "label")


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"no CSV file at .*nope\.csv"):
        load_csv(tmp_path / "nope.csv", "text", "label")


def test_strip_html_removes_tags_but_not_comparisons():
    assert strip_html("A<br />B<br/>C <i>d</i> 1 < 2 > 0 <3") == "A B C  d  1 < 2 > 0 <3"


# ----------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_imdb(real_data_dir):
    data = load_imdb(real_data_dir)

    assert data.info["splits"] == {"train": 25000, "test": 25000}
    assert data.info["class_counts"] == {"train": [12500, 12500], "test": [12500, 12500]}
    assert data.info["checksum_verified"] is True
    assert data.texts_train[0].startswith("Story of a man who has unnatural feelings for a pig")
    assert sum("<br />" in t for t in data.texts_train[:1000]) > 300  # the tags are there
    assert data.y_train[:12500].max() == 0 and data.y_train[12500:].min() == 1


@pytest.mark.realdata
def test_real_mr(real_data_dir):
    data = load_mr(real_data_dir)

    assert data.texts_train.shape == (10662,) and data.texts_test is None
    assert data.info["class_counts"] == {"train": [5331, 5331]}
    assert data.texts_train[5331].startswith("the rock is destined to be the 21st century's")
    with pytest.raises(DataValidationError, match=r"rt-polarity\.neg is not valid utf-8: byte 0xe9 at line 32"):
        load_mr(real_data_dir, encoding="utf-8")
