"""Tests of pipelines.inputs.idx: the IDX parser on tiny synthetic data."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from pipelines.errors import DataValidationError
from pipelines.inputs.idx import parse_idx


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_parses_mnist_like_images_and_labels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([5, 0, 4], dtype=np.uint8)
    image_bytes, label_bytes = _idx_bytes(images, 0x08), _idx_bytes(labels, 0x08)
    assert int.from_bytes(image_bytes[:4], "big") == 2051
    assert int.from_bytes(label_bytes[:4], "big") == 2049

    parsed_images, parsed_labels = parse_idx(image_bytes), parse_idx(label_bytes)

    assert parsed_images.shape == (3, 28, 28) and parsed_images.dtype == np.uint8
    np.testing.assert_array_equal(parsed_images, images)
    np.testing.assert_array_equal(parsed_labels, labels)


@pytest.mark.parametrize(
    "code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)]
)
def test_parses_every_type_code_in_native_byte_order(code, dtype):
    values = np.arange(-6, 6).astype(dtype).reshape(2, 3, 2)

    parsed = parse_idx(_idx_bytes(values, code))

    assert parsed.dtype == np.dtype(dtype) and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, values)


def test_result_is_writable():
    parsed = parse_idx(_idx_bytes(np.zeros((2, 2), np.uint8), 0x08))
    parsed[0, 0] = 7  # would raise on a read-only view of the bytes
    assert parsed[0, 0] == 7


@pytest.mark.parametrize(
    "data, match",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x00", r"Not IDX data.*magic=16779265"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x00", r"Not IDX data.*0x00000701"),
        (b"\x00\x00\x08\x00", r"Not IDX data.*NN >= 1"),
        (gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x00", mtime=0), "still compressed"),
    ],
)
def test_rejects_bad_magic(data, match):
    with pytest.raises(DataValidationError, match=match):
        parse_idx(data)


def test_rejects_truncated_header():
    with pytest.raises(DataValidationError, match="header needs 16 bytes.*Received: 10"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0]))


def test_rejects_truncated_payload():
    data = _idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08)
    with pytest.raises(DataValidationError, match=r"truncated: shape \(4, 28, 28\).*3136 bytes.*Received: 3135"):
        parse_idx(data[:-1])


def test_rejects_trailing_bytes():
    data = _idx_bytes(np.zeros(3, np.uint8), 0x08)
    with pytest.raises(DataValidationError, match="longer than its header says"):
        parse_idx(data + b"\x00")
