"""`dataset="tfds:NAME"`: TensorFlow Datasets image sets read offline from a prepared data directory.

The sets are tiny TFDS builders prepared in the test's folder (no download): one with
train and test splits of fixed-size colour images, one with a train split of images of
varying size.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_datasets as tfds

import pipelines
from pipelines.errors import ConfigError, DatasetUnavailable
from pipelines.inputs.tfds_images import find_tfds_images, load_tfds_images


class TinyShades(tfds.core.GeneratorBasedBuilder):
    """8x8 RGB images, dark or light: a train and a test split."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 3)),
                    "label": tfds.features.ClassLabel(names=["dark", "light"]),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 40), "test": self._generate_examples(100, 10)}

    def _generate_examples(self, start, n):
        rng = np.random.default_rng(start)
        for i in range(start, start + n):
            shade = 40 + 150 * (i % 2)
            yield i, {"image": rng.integers(shade - 30, shade + 30, (8, 8, 3)).astype(np.uint8), "label": i % 2}


class TinySizes(tfds.core.GeneratorBasedBuilder):
    """Grayscale images of two sizes, three classes, no test split and no supervised keys."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "picture": tfds.features.Image(shape=(None, None, 1)),
                    "kind": tfds.features.ClassLabel(names=["a", "b", "c"]),
                    "id": tfds.features.Scalar(dtype=np.int32),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(30):
            side = 6 if i % 2 else 10
            yield i, {"picture": np.full((side, side, 1), 20 * (i % 3), np.uint8), "kind": i % 3, "id": i}


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    for builder in (TinyShades, TinySizes):
        builder(data_dir=str(root)).download_and_prepare()
    return root


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("PIPELINES_OFFLINE", "1")


def test_a_prepared_set_loads_with_its_own_splits_and_class_names(tfds_dir):
    data = load_tfds_images("tiny_shades", tfds_dir)
    assert data.x_train.shape == (40, 8, 8, 3) and data.x_test.shape == (10, 8, 8, 3)
    assert data.x_train.dtype == np.uint8 and data.class_names == ["dark", "light"]
    assert sorted(np.bincount(data.y_train)) == [20, 20]
    # The labels belong to their images: light images are brighter.
    assert data.x_train[data.y_train == 1].mean() > data.x_train[data.y_train == 0].mean() + 100
    assert data.info["name"] == "tfds:tiny_shades" and data.info["split"]["method"].startswith("the set's")


def test_a_set_without_a_test_split_is_split_and_varying_sizes_need_image_size(tfds_dir):
    found = find_tfds_images("tiny_sizes", tfds_dir)
    assert (found.image_key, found.label_key, found.shape) == ("picture", "kind", (None, None, 1))
    with pytest.raises(ConfigError, match=r"vary in size; choose one with image_size"):
        load_tfds_images("tiny_sizes", tfds_dir)
    data = load_tfds_images("tiny_sizes", tfds_dir, image_size=(8, 8), channels=3, test_fraction=0.2)
    assert data.x_train.shape == (24, 8, 8, 3) and data.x_test.shape == (6, 8, 8, 3)
    assert data.info["split"] == {"method": "stratified", "test_fraction": 0.2, "seed": 0}
    assert sorted(np.bincount(data.y_test)) == [2, 2, 2]


def test_missing_sets_are_refused_offline_with_the_folders_and_the_fix(tfds_dir, tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"tfds:mnist is not prepared in any of: .*tfds build mnist"):
        find_tfds_images("mnist", tmp_path)
    with pytest.raises(DatasetUnavailable, match="has no dataset 'no_such_set_xyz'"):
        find_tfds_images("no_such_set_xyz", tmp_path)


def test_the_cnn_trains_on_a_tfds_set_with_its_colour_defaults(tfds_dir, tmp_path):
    config = pipelines.get_config("mnist", dataset="tfds:tiny_shades", data_dir=str(tfds_dir))
    assert (config.filters, config.augment.flip, config.augment.pad_crop) == ((64, 128), True, 1)
    result = pipelines.run(
        "mnist",
        dataset="tfds:tiny_shades",
        data_dir=str(tfds_dir),
        out=str(tmp_path / "run"),
        epochs=8,
        filters=(8, 16),
        stem_filters=8,
        batch_size=8,
        learning_rate=0.05,
        validation_fraction=0.2,
        verbose=0,
    )
    assert result.report["dataset"]["name"] == "tfds:tiny_shades"
    assert result.report["dataset"]["image_shape"] == [8, 8, 3]
    # Dark against light: any working classifier separates them.
    assert result.metrics["accuracy"] == 1.0
