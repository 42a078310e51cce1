"""A folder of class folders as an image dataset: layouts, conversions, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from synthetic_images import colour_squares

import pipelines
from pipelines.cli import main
from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.image_folders import load_image_folder, scan_folder


def _save(path, size=(16, 12), mode="RGB", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode in ("L", "P") else (value, 255 - value, 0)
    Image.new(mode, size, colour).save(path)


def _classes(root, counts, **kwargs):
    for name, n in counts.items():
        for i in range(n):
            _save(root / name / f"{i}.png", value=20 * i, **kwargs)


def test_mixed_formats_sizes_and_modes_are_converted_to_the_chosen_shape(tmp_path):
    # PNG, JPEG, BMP, GIF; RGB, grayscale, palette and RGBA; three sizes; a text file to skip.
    for i, (ext, mode, size) in enumerate(
        [(".png", "RGB", (16, 12)), (".jpg", "L", (20, 20)), (".bmp", "RGB", (8, 8)), (".gif", "P", (16, 12))] * 2
    ):
        _save(tmp_path / ("a" if i % 2 else "b") / f"{i}{ext}", size=size, mode=mode, value=30 * i)
    _save(tmp_path / "a" / "x.png", mode="RGBA")
    _save(tmp_path / "b" / "y.png", mode="RGBA")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    with pytest.raises(
        DataValidationError, match=r"expected images of one size in .*, or image_size=\(height, width\)"
    ):
        load_image_folder(tmp_path, channels=3)
    with pytest.raises(DataValidationError, match="or channels=1 or 3. Received both grayscale and colour"):
        load_image_folder(tmp_path, image_size=(10, 10))
    data = load_image_folder(tmp_path, image_size=(10, 14), channels=3, test_fraction=0.25)
    assert data.class_names == ["a", "b"] and data.x_train.shape[1:] == (10, 14, 3)
    assert data.x_train.dtype == np.uint8 and len(data.y_train) + len(data.y_test) == 10
    assert data.info["skipped_non_images"] == 1 and data.info["converted_to"] == [10, 14, 3]
    gray = load_image_folder(tmp_path, image_size=(10, 14), channels=1, test_fraction=0.25)
    assert gray.x_train.shape[1:] == (10, 14, 1)


def test_train_and_test_folders_are_the_splits(tmp_path):
    _classes(tmp_path / "train", {"cat": 4, "dog": 3}, mode="L")
    _classes(tmp_path / "test", {"cat": 2, "dog": 1}, mode="L")
    data = load_image_folder(tmp_path)
    assert (len(data.y_train), len(data.y_test)) == (7, 3) and data.x_test.shape[1:] == (12, 16, 1)
    assert data.info["split"] == {"method": "the folder's train/ and test/"}
    (tmp_path / "test" / "cow").mkdir()
    _save(tmp_path / "test" / "cow" / "0.png", mode="L")
    with pytest.raises(DataValidationError, match=r"expected the class folders \['cat', 'dog'\] in .*test"):
        scan_folder(tmp_path)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda r: None, "no such folder"),
        (lambda r: _classes(r, {"only": 5}), r"expected at least two class folders .* Received \['only'\]"),
        (
            lambda r: (_classes(r, {"a": 5}), (r / "b").mkdir()),
            r"at least 3 images .* in the class folder .*b. Received 0",
        ),
        (lambda r: _classes(r, {"a": 5, "b": 2}), r"class folder .*b. Received 2: the train, validation and test"),
        (
            lambda r: (_classes(r, {"a": 3, "b": 3}), _save(r / "stray.png")),
            r"inside class folders. Received .*stray.png",
        ),
    ],
)
def test_a_folder_that_is_not_a_dataset_is_refused_with_one_line(tmp_path, make, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(DataValidationError, match=message):
        scan_folder(root)


def test_a_corrupt_image_is_named_or_skipped_and_counted(tmp_path):
    _classes(tmp_path, {"a": 4, "b": 4})
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(DataValidationError, match=r"cannot read the image .*broken.png.*skip_bad_images=true"):
        load_image_folder(tmp_path)
    data = load_image_folder(tmp_path, skip_bad_images=True)
    assert data.info["skipped_bad_images"] == 1 and data.info["bad_images"][0].endswith("broken.png")
    assert len(data.y_train) + len(data.y_test) == 8


def test_a_run_on_a_folder_names_its_classes_and_refuses_bad_settings_before_work(tmp_path, capsys):
    root = tmp_path / "shapes"
    images, labels = colour_squares()
    for i, (pixels, name) in enumerate(zip(images, labels)):
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / name / f"{i}.png")
    tiny = dict(epochs=6, batch_size=8, filters=(8,), convs=(1,), stem_filters=8, dense_units=16, verbose=0)
    result = pipelines.run("mnist", dataset=str(root), out=str(tmp_path / "run"), learning_rate=3e-3, **tiny)
    assert result.report["dataset"]["image_shape"] == [18, 18, 3]
    assert result.report["dataset"]["splits"] == {
        "train": 45,
        "validation": 3,
        "test": 12,
    }  # a validation image per class
    assert result.metrics["accuracy"] > 0.6  # three colours, chance a third; measured 1.0 for seeds 1337, 1, 2
    predictor = pipelines.load(tmp_path / "run")
    assert predictor.class_names == ["blue", "green", "red"]
    assert list(predictor.predict(root / "red")).count("red") >= 8
    for bad, message in [
        (
            ["--set", f"dataset={tmp_path / 'nowhere'}"],
            "a folder of class folders, tfds:NAME or an .npz of x and y. Received",
        ),
        (["--set", "dataset=mnist", "--set", "image_size=32,32"], "image_size apply to a folder of images"),
        (["--set", f"dataset={root}", "--set", "channels=2"], "channels must be one of"),
    ]:
        assert main(["run", "mnist", *bad, "--out", str(tmp_path / "refused")]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "refused").exists()
    with pytest.raises(ConfigError, match="leave no feature map"):
        pipelines.get_config("mnist", dataset=str(root), image_size=(6, 6), filters=(8, 8), convs=(2, 2))
