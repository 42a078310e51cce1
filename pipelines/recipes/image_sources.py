"""Where an image classifier's images come from: the `dataset` setting, and `data=` arrays.

`dataset` is a named set (`mnist`, `fashion_mnist`, `digits`, `cifar10`), a folder of class
folders (`pipelines.inputs.image_folders`), a TensorFlow Datasets set `tfds:NAME`
(`pipelines.inputs.tfds_images`) or an `.npz` of `x` and `y` (a run's kept `input.npz`,
`pipelines.inputs.image_arrays`). `run("mnist", data=(images, labels))` checks
the arrays before any work and keeps them as `input.npz`. Each source gives its image
shape and class count before loading, so the nets are checked before any work too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, DatasetUnavailable
from pipelines.in_memory import InMemoryData
from pipelines.inputs.image_arrays import INPUT_NPZ, image_arrays, load_image_npz, to_npz
from pipelines.inputs.image_folders import load_image_folder, scan_folder
from pipelines.inputs.image_sets import IMAGE_DATASETS, IMAGE_SHAPES, load_image_set, model_shape
from pipelines.inputs.mnist import ImageData
from pipelines.inputs.tfds_images import find_tfds_images, load_tfds_images, tfds_name

__all__ = [
    "dataset_kind",
    "check_dataset",
    "image_shapes",
    "data_shape",
    "num_classes",
    "load_images",
    "check_images_data",
]


def dataset_kind(dataset: str) -> str:
    """`"named"`, `"folder"`, `"tfds"` or `"npz"`; `"unknown"` for a setting that is none of them."""
    if dataset in IMAGE_DATASETS:
        return "named"
    if tfds_name(dataset) is not None:
        return "tfds"
    path = Path(dataset)
    if path.is_dir():
        return "folder"
    return "npz" if path.suffix == ".npz" and path.is_file() else "unknown"


def check_dataset(config: Any) -> None:
    """Refuses a `dataset` that names nothing, and folder settings on another source.

    Raises:
        ConfigError: See above.
    """
    kind = dataset_kind(config.dataset)
    if kind == "unknown":
        raise ConfigError(
            f"dataset must be one of {', '.join(IMAGE_DATASETS)}, a folder of class folders, tfds:NAME or an "
            f".npz of x and y. Received: {config.dataset!r}, which is none of them"
        )
    given = [k for k in ("image_size", "channels") if getattr(config, k) is not None]
    if given and kind not in ("folder", "tfds"):
        raise ConfigError(
            f"{' and '.join(given)} apply to a folder of images or tfds:NAME; the dataset {config.dataset!r} "
            f"has its own images. Drop {', '.join(given)}"
        )


def image_shapes(config: Any) -> list[tuple[int, int, int]]:
    """The image shapes a run may train on: its dataset's, and its fallback's (net checks use both).

    A folder's shape is read from its images' headers (refused if they disagree with no
    setting to choose); an `.npz`'s from its images.
    """
    shapes = {IMAGE_SHAPES[name] for name in (config.dataset, config.fallback_dataset) if name in IMAGE_SHAPES}
    kind = dataset_kind(config.dataset)
    if kind == "folder":
        shapes.add(scan_folder(config.dataset).shape(config.image_size, config.channels))
    elif kind == "tfds":
        shapes.add(_tfds(config).model_shape(config.image_size, config.channels))
    elif kind == "npz":
        shapes.add(model_shape(_npz(config).x_train))
    return sorted(shapes)


def data_shape(config: Any, data: Any = None) -> tuple[int, int, int] | None:
    """The shape the run's images will have: `data=` arrays', else the dataset's (not its
    fallback's); None when neither says (bad settings, refused later with their own error)."""
    if data is not None:
        images = np.asarray(data[0]) if isinstance(data, (tuple, list)) and len(data) == 2 else None
        return model_shape(images) if images is not None and images.ndim in (3, 4) else None
    kind = dataset_kind(config.dataset)
    if kind == "named":
        return IMAGE_SHAPES[config.dataset]
    if kind == "folder":
        return scan_folder(config.dataset).shape(config.image_size, config.channels)
    if kind == "tfds":
        return _tfds(config).model_shape(config.image_size, config.channels)
    return model_shape(_npz(config).x_train) if kind == "npz" else None


def num_classes(config: Any) -> int:
    """The classes of the dataset: ten for each named one, else a folder's class folders or an `.npz`'s."""
    kind = dataset_kind(config.dataset)
    if kind == "folder":
        return len(scan_folder(config.dataset).class_names)
    if kind == "tfds":
        return len(_tfds(config).class_names)
    return len(_npz(config).class_names) if kind == "npz" else 10


def load_images(config: Any, given: ImageData | None = None) -> ImageData:
    """The run's images: `given` (checked `data=` arrays), else the dataset, or the fallback
    when a named dataset's files are unavailable."""
    if given is not None:
        return given
    kind = dataset_kind(config.dataset)
    if kind == "folder":
        return load_image_folder(
            config.dataset,
            image_size=config.image_size,
            channels=config.channels,
            test_fraction=config.test_fraction,
            skip_bad_images=config.skip_bad_images,
        )
    if kind == "tfds":
        return load_tfds_images(
            str(tfds_name(config.dataset)),
            config.data_dir,
            image_size=config.image_size,
            channels=config.channels,
            test_fraction=config.test_fraction,
        )
    if kind == "npz":
        return _npz(config)
    try:
        return load_image_set(config.dataset, config.data_dir)
    except DatasetUnavailable:
        if config.fallback_dataset is None or config.fallback_dataset == config.dataset:
            raise
        print(f"Dataset {config.dataset!r} is unavailable; running on the fallback {config.fallback_dataset!r}.")
        data = load_image_set(config.fallback_dataset, None)
        data.info["fallback_for"] = config.dataset
        return data


def check_images_data(config: Any, data: Any) -> tuple[Any, InMemoryData]:
    """`run(name, data=(images, labels))` for the image classifiers: checked before any work.

    Returns:
        The config to run with (its `dataset` is the kept `input.npz`), and the data.

    Raises:
        ConfigError: `data` is not a pair, or it comes with a folder's or an .npz's dataset.
        DataValidationError: See `pipelines.inputs.image_arrays.image_arrays`.
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ConfigError(f"expected data=(images, labels). Received: {type(data).__name__}")
    if dataset_kind(config.dataset) in ("folder", "tfds", "npz"):
        raise ConfigError(
            f"pass either data=(images, labels) or a dataset to read, not both. Received: dataset={config.dataset!r}"
        )
    images, labels = np.asarray(data[0]), np.asarray(data[1])
    checked = image_arrays(images, labels, test_fraction=config.test_fraction)
    config = dataclasses.replace(config, dataset=INPUT_NPZ, fallback_dataset=None)
    return config, InMemoryData(checked, INPUT_NPZ, to_npz(images, labels), path_field="dataset")


def _npz(config: Any) -> ImageData:
    return load_image_npz(config.dataset, test_fraction=config.test_fraction)


def _tfds(config: Any) -> Any:
    # Metadata only: a set that is not prepared is downloaded by the run's load, not by a config check.
    return find_tfds_images(str(tfds_name(config.dataset)), config.data_dir, download=False)
