"""Tests of pipelines.inputs.mnist and pipelines.inputs.splits.

Synthetic IDX files with a patched manifest cover the loader; the real MNIST (from
PIPELINES_DATA_DIR) and Debian's Fashion-MNIST are checked when present.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from pipelines.errors import ChecksumMismatch, ConfigError, DataValidationError
from pipelines.inputs import checksums
from pipelines.inputs import manifest as manifest_module
from pipelines.inputs.manifest import UnknownDatasetError, parse_manifest
from pipelines.inputs.mnist import (
    FASHION_CLASS_NAMES,
    IDX_FILES,
    ImageData,
    load_mnist_family,
)
from pipelines.inputs.splits import train_val_split

N_TRAIN, N_TEST = 30, 10


def _idx(array: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    )


def _synthetic_contents(seed=0, image_shape=(28, 28), max_label=9) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    contents = {}
    for split, n in [("train", N_TRAIN), ("test", N_TEST)]:
        images_file, labels_file = IDX_FILES[split]
        contents[images_file] = _idx(rng.integers(0, 256, (n, *image_shape)))
        contents[labels_file] = _idx(np.arange(n) % (max_label + 1))
    return contents


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
    """Writes tiny IDX .gz files and patches the manifest to know their checksums."""
    monkeypatch.delenv("PIPELINES_DATA_DIR", raising=False)
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")

    def make(contents=None, written=None):
        contents = contents or _synthetic_contents()
        written = written or contents
        folder = tmp_path / "data" / "mnist"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in written.items():
            (folder / name).write_bytes(gzip.compress(data))
        files = [
            {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "decompress": "gzip"}
            for name, data in contents.items()
        ]
        manifest = parse_manifest(
            {
                "datasets": {
                    "mnist": {"subdir": "mnist", "files": files},
                    "fashion_mnist": {"subdir": "mnist", "files": files},
                }
            }
        )
        monkeypatch.setattr(manifest_module, "default_manifest", lambda: manifest)
        return folder

    return make


def test_loads_synthetic_mnist(synthetic):
    folder = synthetic()

    data = load_mnist_family("mnist", folder.parent)

    assert isinstance(data, ImageData)
    assert data.x_train.shape == (N_TRAIN, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (N_TEST, 28, 28)
    assert data.y_train.dtype == np.int64 and data.y_train[:3].tolist() == [0, 1, 2]
    assert data.class_names == [str(d) for d in range(10)]
    assert data.info == {
        "name": "mnist",
        "source": str(folder),
        "splits": {"train": N_TRAIN, "test": N_TEST},
        "checksum_verified": True,
        "resolved_by": "argument",
        "files": {name: str(folder / name) for name in _synthetic_contents()},
    }


def test_fashion_mnist_has_the_official_class_names(synthetic):
    data = load_mnist_family("fashion_mnist", synthetic())

    assert data.class_names == FASHION_CLASS_NAMES
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


def test_each_file_is_decompressed_exactly_once(synthetic, monkeypatch):
    folder = synthetic()
    opened = []
    real_gzip_file = checksums.gzip.GzipFile

    def counting_gzip_file(*args, **kwargs):
        opened.append(kwargs["fileobj"].name)
        return real_gzip_file(*args, **kwargs)

    # Reading and checking share one pass: a stream-verify before the read would open each file twice.
    monkeypatch.setattr(checksums.gzip, "GzipFile", counting_gzip_file)

    load_mnist_family("mnist", folder)

    assert len(opened) == 4 and len(set(opened)) == 4


def test_corrupt_file_raises_checksum_mismatch(synthetic):
    contents = _synthetic_contents()
    tampered = dict(contents, **{"t10k-labels-idx1-ubyte.gz": _idx(np.zeros(N_TEST))})
    folder = synthetic(contents, written=tampered)

    with pytest.raises(ChecksumMismatch, match="t10k-labels-idx1-ubyte.gz does not match"):
        load_mnist_family("mnist", folder)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (27, 28)}, r"uint8 \(n, 28, 28\).*\(30, 27, 28\)"),
        ({"max_label": 11}, r"labels in 0\.\.9.*0\.\.11"),
    ],
)
def test_unexpected_arrays_raise_data_validation_error(synthetic, kwargs, match):
    folder = synthetic(_synthetic_contents(**kwargs))  # checksums match the bad data
    with pytest.raises(DataValidationError, match=match):
        load_mnist_family("mnist", folder)


def test_unknown_name_and_digits_with_data_dir_are_rejected(tmp_path):
    with pytest.raises(UnknownDatasetError, match="'kmnist'.*mnist, fashion_mnist, digits"):
        load_mnist_family("kmnist")
    with pytest.raises(ConfigError, match="bundled with scikit-learn.*data_dir=None"):
        load_mnist_family("digits", tmp_path)


# ---------------------------------------------------------------------------- digits


def test_digits_loads_rescaled_and_split():
    data = load_mnist_family("digits")

    assert data.x_train.shape == (1437, 8, 8) and data.x_test.shape == (360, 8, 8)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0 and data.x_train.max() == 255
    # 0..16 scaled by 255/16 and rounded: every pixel is one of 17 levels.
    levels = np.rint(np.arange(17) * 255 / 16).astype(np.uint8)
    assert set(np.unique(data.x_train)) <= set(levels.tolist())
    assert data.info["checksum_verified"] is False
    assert data.info["resolved_by"] == "bundled"
    assert "scikit-learn" in data.info["note"]
    assert data.info["split"] == {"method": "stratified sklearn train_test_split", "test_size": 0.2, "seed": 0}
    assert data.info["splits"] == {"train": 1437, "test": 360}
    test_share = np.bincount(data.y_test) / np.bincount(np.concatenate([data.y_train, data.y_test]))
    assert np.allclose(test_share, 0.2, atol=0.02)  # stratified
    again = load_mnist_family("digits")
    np.testing.assert_array_equal(again.x_test, data.x_test)  # seeded


# ---------------------------------------------------------------------------- splits


def test_train_val_split_is_stratified_and_seeded():
    x = np.arange(200).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], 25)

    x_tr, y_tr, x_val, y_val = train_val_split(x, y, val_fraction=0.2, seed=3)
    same = train_val_split(x, y, val_fraction=0.2, seed=3)
    other = train_val_split(x, y, val_fraction=0.2, seed=4)

    assert (len(x_tr), len(x_val)) == (80, 20)
    assert np.bincount(y_val).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(y_tr, x_tr[:, 0] // 2 // 25)  # rows stay paired
    np.testing.assert_array_equal(same[2], x_val)
    assert not np.array_equal(other[2], x_val)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"val_fraction": 0.0}, ConfigError, r"\(0, 1\). Received: val_fraction=0.0"),
        ({"val_fraction": 1}, ConfigError, "val_fraction=1"),
        ({"seed": 1.5}, ConfigError, "seed=1.5"),
        ({"y": np.zeros(3)}, DataValidationError, r"len\(x\)=4, len\(y\)=3"),
        ({"y": np.array([0, 0, 0, 1])}, DataValidationError, "stratified"),
    ],
)
def test_train_val_split_rejects_bad_arguments(kwargs, error, match):
    args = {"x": np.zeros((4, 2)), "y": np.array([0, 0, 1, 1]), "val_fraction": 0.5, "seed": 0, **kwargs}
    with pytest.raises(error, match=match):
        train_val_split(**args)


# ------------------------------------------------------------------------- real data

DATA_DIR = os.environ.get("PIPELINES_DATA_DIR")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")


@pytest.mark.realdata
@pytest.mark.skipif(
    not DATA_DIR, reason="PIPELINES_DATA_DIR is not set; point it at a folder holding mnist/ (e.g. shared/datasets)"
)
def test_real_mnist(isolated_cache):
    data = load_mnist_family("mnist")

    assert data.x_train.shape == (60000, 28, 28) and data.y_train.shape == (60000,)
    assert data.x_test.shape == (10000, 28, 28) and data.y_test.shape == (10000,)
    assert data.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(data.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert data.info["checksum_verified"] is True and data.info["resolved_by"] == "env"


@pytest.mark.realdata
@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_from_debian(isolated_cache, monkeypatch, tmp_path):
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(tmp_path / "empty"))

    data = load_mnist_family("fashion_mnist")

    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.info["resolved_by"] == "system"
    assert data.info["source"] == str(DEBIAN_FASHION)
    assert data.info["checksum_verified"] is True
