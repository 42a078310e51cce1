"""Image classification sets of TensorFlow Datasets: `dataset="tfds:NAME"`.

The set is read from a TFDS data directory where it is already prepared: the run's
`data_dir`, else `PIPELINES_DATA_DIR/tensorflow_datasets`, the package cache's
`tensorflow_datasets/`, and TFDS's own (`TFDS_DATA_DIR`, else `~/tensorflow_datasets`),
the first that holds it. With internet (and `PIPELINES_OFFLINE` unset), a set prepared
nowhere is downloaded and prepared into the cache by TFDS, which checks its own
downloads; offline, the error names the folders searched and how to fill one.

The image feature and the label come from the set's `supervised_keys` (else its one
`Image` and one `ClassLabel` feature); class names from the label. `train` and `test`
splits are used when the set has both; otherwise a stratified test split
(`test_fraction`, seed 0) is held out of `train`, as for a folder. Images are converted to
`image_size` and `channels` when given (needed for sets whose images vary in size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DatasetUnavailable, DataValidationError
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.sources import DATA_DIR_ENV, default_cache_dir, is_offline
from pipelines.inputs.splits import train_val_split

__all__ = ["TFDS_PREFIX", "tfds_name", "TfdsImages", "find_tfds_images", "load_tfds_images"]

TFDS_PREFIX = "tfds:"
_SPLIT_SEED = 0


def tfds_name(dataset: str) -> str | None:
    """The TFDS name in a `tfds:NAME` setting, else None.

    Example:
        >>> tfds_name("tfds:cifar100"), tfds_name("cifar10")
        ('cifar100', None)
    """
    return dataset[len(TFDS_PREFIX) :].strip() or None if dataset.startswith(TFDS_PREFIX) else None


@dataclass
class TfdsImages:
    """A prepared TFDS image classification set: where it is and what it holds (read from its metadata).

    Attributes:
        name: The TFDS name.
        builder: The TFDS builder reading it.
        image_key: The image feature.
        label_key: The label feature.
        shape: (height, width, channels) of its images; None for a side that varies.
        class_names: The label's names.
        splits: The set's split names.
    """

    name: str
    builder: Any
    image_key: str
    label_key: str
    shape: tuple[int | None, int | None, int]
    class_names: list[str]
    splits: list[str]

    def model_shape(self, image_size: tuple[int, int] | None, channels: int | None) -> tuple[int, int, int]:
        """The (height, width, channels) its images are converted to.

        Raises:
            ConfigError: The images vary in size and `image_size` is None.
        """
        height, width, own_channels = self.shape
        if image_size is None and (height is None or width is None):
            raise ConfigError(
                f"tfds:{self.name}'s images vary in size; choose one with image_size=(height, width), e.g. (64, 64)"
            )
        size = image_size or (height, width)
        return int(size[0]), int(size[1]), int(channels or own_channels)  # type: ignore[arg-type]


def find_tfds_images(name: str, data_dir: str | os.PathLike | None = None, *, download: bool = True) -> TfdsImages:
    """Finds the prepared set `name` (see the module docstring) and reads its metadata.

    Raises:
        DatasetUnavailable: TFDS has no set of that name, or it is prepared in none of the
            folders and cannot be downloaded here.
        DataValidationError: The set is not an image classification set.
    """
    import tensorflow_datasets as tfds  # heavy: only for tfds: datasets

    folders = _folders(data_dir)
    builder = None
    for folder in folders:
        try:
            candidate = tfds.builder(name, data_dir=str(folder))
        except Exception as err:  # tfds raises its own types for an unknown name
            if type(err).__name__ == "DatasetNotFoundError" and not _holds(folder, name):
                continue
            raise DatasetUnavailable(f"tensorflow_datasets cannot open {name!r} in {folder}: {err}") from err
        if candidate.is_prepared():
            builder = candidate
            break
    if builder is None:
        builder = _download(tfds, name, folders, download)
    return _describe(name, builder, tfds)


def load_tfds_images(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    test_fraction: float = 0.2,
) -> ImageData:
    """Reads the prepared set `name` into an `ImageData` (see the module docstring).

    Raises:
        DatasetUnavailable, DataValidationError: as `find_tfds_images`.
        ConfigError: Images of varying size and no `image_size`.
    """
    found = find_tfds_images(name, data_dir)
    shape = found.model_shape(image_size, channels)
    arrays = {split: _read_split(found, split, shape) for split in ("train", "test") if split in found.splits}
    if "train" not in arrays:
        raise DataValidationError(f"tfds:{name} has no train split (its splits: {', '.join(found.splits)})")
    if "test" in arrays:
        (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
        split_note: dict[str, Any] = {"method": "the set's train and test splits"}
    else:
        x_train, y_train, x_test, y_test = train_val_split(*arrays["train"], test_fraction, _SPLIT_SEED)
        split_note = {"method": "stratified", "test_fraction": test_fraction, "seed": _SPLIT_SEED}
    info = {
        "name": f"tfds:{name}",
        "source": str(Path(found.builder.data_dir)),
        "version": str(found.builder.version),
        "splits": {"train": len(y_train), "test": len(y_test)},
        "checksum_verified": False,
        "resolved_by": "tensorflow_datasets",
        "note": "tfds checks its own downloads; the manifest's checksums do not apply",
        "split": split_note,
        "class_counts": {"train": np.bincount(y_train, minlength=len(found.class_names)).tolist()},
        "converted_to": list(shape),
    }
    return ImageData(x_train, y_train, x_test, y_test, class_names=found.class_names, info=info)


def _folders(data_dir: str | os.PathLike | None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    env_root = os.environ.get(DATA_DIR_ENV, "").strip()
    tfds_env = os.environ.get("TFDS_DATA_DIR", "").strip()
    folders = [Path(env_root).expanduser() / "tensorflow_datasets"] if env_root else []
    folders += [default_cache_dir() / "tensorflow_datasets"]
    folders += [Path(tfds_env).expanduser() if tfds_env else Path.home() / "tensorflow_datasets"]
    return list(dict.fromkeys(folders))


def _holds(folder: Path, name: str) -> bool:
    return (folder / name).is_dir()


def _download(tfds: Any, name: str, folders: list[Path], download: bool) -> Any:
    searched = ", ".join(str(f) for f in folders)
    how = (
        f"Prepare it where there is internet (`tfds build {name} --data_dir DIR`), then copy DIR/{name} into "
        f"one of them, or pass data_dir=DIR."
    )
    # TFDS's own catalogue (installed with it: no network) before the offline refusal, so a typo
    # is named as one.
    if name.split("/")[0].split(":")[0] not in tfds.list_builders(with_community_datasets=False):
        raise DatasetUnavailable(
            f"tensorflow_datasets has no dataset {name!r}, and none of these folders holds one of that name: "
            f"{searched}. See https://www.tensorflow.org/datasets/catalog for the names."
        )
    if not download or is_offline():
        raise DatasetUnavailable(f"tfds:{name} is not prepared in any of: {searched}. {how}")
    target = default_cache_dir() / "tensorflow_datasets"
    try:
        builder = tfds.builder(name, data_dir=str(target))
        builder.download_and_prepare()
    except Exception as err:  # tfds raises many types (unknown name, network, checksum)
        raise DatasetUnavailable(
            f"tfds:{name} is not prepared in any of: {searched}, and tensorflow_datasets could not download it "
            f"({type(err).__name__}: {err}). {how}"
        ) from err
    return builder


def _describe(name: str, builder: Any, tfds: Any) -> TfdsImages:
    features = builder.info.features
    keys = builder.info.supervised_keys
    if keys is not None and len(keys) == 2 and all(isinstance(k, str) for k in keys):
        image_key, label_key = keys
    else:
        images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
        labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
        if len(images) != 1 or len(labels) != 1:
            raise DataValidationError(
                f"expected an image classification set (one image and one class label). tfds:{name} has "
                f"features {', '.join(features.keys())}"
            )
        image_key, label_key = images[0], labels[0]
    image, label = features[image_key], features[label_key]
    if not isinstance(image, tfds.features.Image) or not isinstance(label, tfds.features.ClassLabel):
        raise DataValidationError(
            f"expected an image classification set. tfds:{name}'s supervised pair ({image_key!r}, {label_key!r}) "
            "is not an image and a class label"
        )
    height, width, channels = image.shape
    if channels not in (1, 3):
        raise DataValidationError(f"expected grayscale or RGB images. tfds:{name}'s have {channels} channels")
    return TfdsImages(
        name, builder, image_key, label_key, (height, width, channels), list(label.names), list(builder.info.splits)
    )


def _read_split(found: TfdsImages, split: str, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    height, width, channels = shape

    def convert(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
        image = example[found.image_key]
        if image.shape[-1] != channels:
            image = tf.image.rgb_to_grayscale(image) if channels == 1 else tf.image.grayscale_to_rgb(image)
        if image.shape[0] != height or image.shape[1] != width:
            resized = tf.image.resize(tf.cast(image, tf.float32), (height, width))
            image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
        return image, example[found.label_key]

    ds = found.builder.as_dataset(split=split, shuffle_files=False).map(convert, num_parallel_calls=tf.data.AUTOTUNE)
    images, labels = [], []
    for x, y in ds.batch(4096).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    if not images:
        raise DataValidationError(f"tfds:{found.name}'s {split} split is empty")
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)
