"""Images and labels from Python as the image classifiers' data: checks, the kept input.npz, the rerun."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_images import colour_squares

import pipelines
from pipelines.errors import ConfigError, DataValidationError
from pipelines.inputs.image_arrays import image_arrays


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((9, 8, 8), "float32"), [0, 1, 2] * 3, "expected uint8 images"),
        (np.zeros((9, 8, 8), "uint8"), [0, 1] * 4, r"expected one label per image, shape \(9,\)"),
        (np.zeros((9, 8, 8), "uint8"), [0.5] * 9, "expected class indices or class names"),
        (np.zeros((9, 8, 8), "uint8"), ["a"] * 9, r"at least two classes .* Received 1 class"),
        (np.zeros((9, 8, 8), "uint8"), ["a"] * 7 + ["b"] * 2, r"too few: 'b': 2"),
        (np.zeros((9, 8, 8, 2), "uint8"), [0, 1, 2] * 3, r"c in \(1, 3\)"),
    ],
)
def test_arrays_that_cannot_train_a_classifier_are_refused(images, labels, message):
    with pytest.raises(DataValidationError, match=message):
        image_arrays(images, np.asarray(labels))


def test_a_run_on_arrays_keeps_them_and_reruns_on_the_same_test_images(tmp_path):
    images, labels = colour_squares()
    tiny = dict(epochs=6, batch_size=8, filters=(8,), convs=(1,), stem_filters=8, dense_units=16, verbose=0)
    first = pipelines.run("mnist", data=(images, labels), out=str(tmp_path / "a"), learning_rate=3e-3, **tiny)
    assert first.report["dataset"]["name"] == "arrays" and first.report["dataset"]["image_shape"] == [18, 18, 3]
    assert first.metrics["accuracy"] > 0.6  # chance is a third; 1.0 measured on the folder of these images
    kept = tmp_path / "a" / "input.npz"
    assert first.report["config"]["dataset"] == str(kept) and kept.is_file()
    assert pipelines.load(tmp_path / "a").class_names == ["blue", "green", "red"]
    # The report's config repeats the run: the same checked arrays, the same seeded test split.
    pipelines.run("mnist", dataset=str(kept), out=str(tmp_path / "b"), learning_rate=3e-3, **tiny)
    kept_run, rerun = (np.load(tmp_path / d / "predictions.npz") for d in ("a", "b"))
    assert str(kept_run["fingerprint"]) == str(rerun["fingerprint"])  # the test labels and images
    np.testing.assert_array_equal(kept_run["y_true"], rerun["y_true"])
    with pytest.raises(ConfigError, match="pass either data=.* or a dataset to read, not both"):
        pipelines.run("mnist", data=(images, labels), dataset=str(kept), out=str(tmp_path / "c"), **tiny)
    assert not (tmp_path / "c").exists()
