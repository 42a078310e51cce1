"""Defaults that depend on the data: the mnist CNN's colour defaults, and who wins over them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pipelines
from pipelines import registry, runner
from pipelines.cli import main
from pipelines.config import AugmentConfig
from pipelines.data_defaults import given, resolve_config
from pipelines.errors import ConfigError
from pipelines.inputs.images import make_augmenter
from pipelines.tasks.mnist import MnistConfig

MNIST = MnistConfig()


def test_a_colour_dataset_gets_the_colour_defaults_and_a_grayscale_one_keeps_the_mnist_ones():
    colour = pipelines.get_config("mnist", dataset="cifar10")
    assert (colour.filters, colour.convs, colour.padding, colour.stem_kernel_size) == (
        (64, 128, 256),
        (2, 2, 2),
        "same",
        3,
    )
    assert (colour.optimizer, colour.nesterov, colour.schedule) == ("sgd", True, "one_cycle")
    assert (colour.augment.flip, colour.augment.pad_crop, colour.augment.rotation, colour.augment.zoom) == (
        True,
        4,
        0.0,
        0.0,
    )
    assert pipelines.get_config("mnist", dataset="fashion_mnist") == MnistConfig(dataset="fashion_mnist")


def test_what_the_caller_sets_wins_over_the_data_defaults():
    config = pipelines.get_config("mnist", dataset="cifar10", epochs=2, optimizer="adam", nesterov=False)
    assert (config.epochs, config.optimizer, config.nesterov, config.batch_size) == (2, "adam", False, 256)
    # One field of a section: the section's other data defaults stay.
    one = pipelines.get_config("mnist", dataset="cifar10", **{"augment.flip": False})
    assert (one.augment.flip, one.augment.pad_crop) == (False, 4)
    assert pipelines.get_config("mnist", dataset="cifar10", augment={"pad_crop": 2}).augment.flip is True
    # The whole section given: all of it is the caller's.
    assert pipelines.get_config("mnist", dataset="cifar10", augment=AugmentConfig()).augment == AugmentConfig()
    # Stages given without their convolutions: two each, as in the colour defaults; and the other way round.
    stages = pipelines.get_config("mnist", dataset="cifar10", filters=(32, 64))
    assert (stages.filters, stages.convs) == ((32, 64), (2, 2))
    convs = pipelines.get_config("mnist", dataset="cifar10", convs=(3,))
    assert (convs.filters, convs.convs) == ((64,), (3,))
    # The default search space follows the defaults: SGD's learning rates for colour images.
    tune = registry.get_task("mnist").tune
    assert tune.space_for(pipelines.get_config("mnist", dataset="cifar10"))["learning_rate"] == "log:2e-2:3e-1"
    assert tune.space_for(pipelines.get_config("mnist"))["learning_rate"] == "log:1e-3:1e-2"


def test_a_config_instance_is_run_as_it_is():
    _, config = runner._resolve(MnistConfig(dataset="cifar10"), {})
    assert (config.filters, config.augment.flip) == (MNIST.filters, False)


def test_the_defaults_follow_the_image_size_of_a_folder_and_of_arrays(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (64, 64), (i * 40, 10, 200)).save(tmp_path / name / f"{i}.png")
    folder = pipelines.get_config("mnist", dataset=str(tmp_path))
    assert (folder.filters, folder.convs, folder.augment.pad_crop) == ((64, 128, 256), (2, 2, 2), 8)
    task = registry.get_task("mnist")
    colour = resolve_config(task, {}, data=(np.zeros((4, 40, 40, 3), "uint8"), np.arange(4)))
    assert (colour.filters, colour.augment.pad_crop) == ((64, 128, 256), 5)
    assert resolve_config(task, {}, data=(np.zeros((4, 28, 28), "uint8"), np.arange(4))) == MNIST


def test_bad_settings_keep_their_own_errors():
    with pytest.raises(ConfigError, match="dataset must be one of"):
        pipelines.get_config("mnist", dataset="no-such-set")
    with pytest.raises(ConfigError, match="dataset must be of type str"):
        pipelines.get_config("mnist", dataset=None)  # typed before the data defaults read it
    with pytest.raises(ConfigError, match="unknown config key 'epoch'"):
        pipelines.get_config("mnist", dataset="cifar10", epoch=3)
    with pytest.raises(ConfigError, match="must be of type int"):
        resolve_config(registry.get_task("mnist"), {"dataset": "cifar10", "epochs": "many"}, from_strings=True)


def test_given_reads_dotted_keys_and_sections():
    assert given("epochs", {"epochs": 1}) and not given("epochs", {"seed": 1})
    assert given("augment.flip", {"augment.flip": True}) and given("augment.flip", {"augment": {"flip": True}})
    assert not given("augment.flip", {"augment": {"zoom": 0.1}}) and given("augment.flip", {"augment": AugmentConfig()})


def test_cli_config_shows_the_resolved_values_and_marks_the_changed_ones(capsys):
    assert main(["config", "mnist", "--set", "dataset=cifar10", "--set", "epochs=4"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "(64, 128, 256)" in lines["filters"] and lines["filters"].endswith("(default (48,))")
    assert " 4 " in lines["epochs"] and lines["epochs"].endswith("(default 9)")
    assert "(default" not in lines["seed"]
    assert main(["config", "mnist"]) == 0
    assert "(default" not in capsys.readouterr().out.replace("(default reports/", "")


def _grid(n: int, side: int) -> np.ndarray:
    # Every pixel of an image distinct, so a shift or a flip can be read off the output.
    image = np.arange(side * side, dtype="float32").reshape(side, side, 1) / (side * side)
    return np.repeat(image[None], n, axis=0)


def test_flips_are_drawn_per_image():
    x = _grid(64, 8)
    flip = AugmentConfig(rotation=0, translation=0, zoom=0, flip=True)
    out = make_augmenter(flip, seed=3, image_size=(8, 8))(x, training=True).numpy()
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored) and 10 < same.sum() < 54


def test_pad_and_crop_shifts_each_image_by_whole_pixels_within_the_padding():
    x = _grid(64, 8)
    crop = AugmentConfig(rotation=0, translation=0, zoom=0, pad_crop=2)
    out = make_augmenter(crop, seed=3, image_size=(8, 8))(x, training=True).numpy()
    shifts = set()
    for image in out:
        # Whole-pixel shifts keep the original values (nearest, reflected border): find the offset.
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(image[2:6, 2:6], x[0, 2 - dy : 6 - dy, 2 - dx : 6 - dx])
        ]
        assert len(found) == 1, "not a whole-pixel shift of at most 2"
        shifts.add(found[0])
    assert len(shifts) > 8  # per image, not one window per batch
    with pytest.raises(ValueError, match="image_size"):
        make_augmenter(crop, seed=3)
