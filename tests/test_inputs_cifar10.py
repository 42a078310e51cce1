"""CIFAR-10's binary records, and the real files under PIPELINES_DATA_DIR."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.errors import DatasetUnavailable, DataValidationError
from pipelines.inputs.cifar10 import CIFAR10_CLASS_NAMES, load_cifar10, parse_records


def test_records_are_label_then_red_green_blue_planes_row_major():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    labels = np.array([9, 0, 4])
    content = b"".join(bytes([y]) + image.transpose(2, 0, 1).tobytes() for image, y in zip(images, labels))
    parsed, parsed_labels = parse_records(content)
    np.testing.assert_array_equal(parsed, images)
    assert parsed_labels.tolist() == [9, 0, 4] and parsed_labels.dtype == np.int64
    with pytest.raises(DataValidationError, match="expected CIFAR-10 records of 3073 bytes. Received 3072 bytes"):
        parse_records(content[:3072])


def test_an_empty_folder_names_the_files_and_where_to_put_them(tmp_path):
    with pytest.raises(DatasetUnavailable, match="(?s)data_batch_1.bin.gz.*test_batch.bin.gz.*batches.meta.txt"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.realdata
def test_the_real_files_are_the_canonical_cifar10(real_data_dir):
    data = load_cifar10(real_data_dir / "cifar10")
    assert data.x_train.shape == (50_000, 32, 32, 3) and data.x_test.shape == (10_000, 32, 32, 3)
    assert data.class_names == CIFAR10_CLASS_NAMES and data.info["checksum_verified"] is True
    # From SOURCE.md: the first test labels, 5,000 / 1,000 per class, the published channel means.
    assert data.y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert set(np.bincount(data.y_train)) == {5000} and set(np.bincount(data.y_test)) == {1000}
    np.testing.assert_allclose(data.x_train[:, :, :, :].mean(axis=(0, 1, 2)) / 255, [0.4914, 0.4822, 0.4465], atol=1e-4)
