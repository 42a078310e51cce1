"""Using a finished run on new inputs: `pipelines.load(RUN_DIR)` and `pipelines predict`."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from synthetic_images import bar_digits
from synthetic_texts import polar_texts
from two_replica_runs import PIPELINE_RUNS

import pipelines
from pipelines.calibration import temperature_of
from pipelines.cli import main
from pipelines.errors import ConfigError, DataValidationError, ModelLoadError, OutputDirError
from pipelines.export import export_run
from pipelines.inputs.raw_images import read_images
from pipelines.tasks import denoising_autoencoder


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mnist"
    pipelines.run("mnist", dataset="digits", epochs=2, batch_size=64, verbose=0, out=str(out))
    return out


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    """Forty of scikit-learn's digits as 64x64 RGB PNGs: another size and mode than the model's."""
    digits = load_digits()
    folder = tmp_path_factory.mktemp("digits")
    for i in range(40):
        pixels = (digits.images[i] * (255 / 16)).astype("uint8")
        Image.fromarray(pixels).resize((64, 64), Image.Resampling.BILINEAR).convert("RGB").save(folder / f"{i:02d}.png")
    return folder, digits.target[:40]


def test_a_run_predicts_image_files_of_any_size_and_mode(digits_run, digit_files):
    folder, labels = digit_files
    predictor = pipelines.load(digits_run)
    assert predictor.pipeline == "mnist" and predictor.class_names == [str(d) for d in range(10)]
    assert predictor.metrics["accuracy"] > 0.5 and predictor.config["dataset"] == "digits"
    proba = predictor.predict_proba(folder)
    assert proba.shape == (40, 10) and np.allclose(proba.sum(axis=1), 1)
    predicted = predictor.predict(sorted(folder.glob("*.png")))
    assert (predicted == np.array([str(d) for d in labels])).mean() > 0.7  # measured 0.9 after two epochs
    # An array of the same images gives the same numbers as the files.
    arrays = np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])
    np.testing.assert_allclose(predictor.predict_proba(arrays), proba, rtol=1e-6)


def test_the_cli_writes_one_row_per_image_with_the_same_numbers(digits_run, digit_files, tmp_path, capsys):
    folder, _ = digit_files
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(digits_run), str(folder), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 40 and list(rows[0])[:3] == ["input", "prediction", "p_0"]
    proba = pipelines.load(digits_run).predict_proba(folder)
    got = np.array([[float(row[f"p_{d}"]) for d in range(10)] for row in rows])
    np.testing.assert_allclose(got, proba, rtol=1e-6)
    assert main(["predict", str(digits_run), str(folder / "00.png"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["input"].endswith("00.png")


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda d: [], "expected at least one input"),
        (lambda d: [str(d / "missing.png")], "no such file"),
        (lambda d: [str(d / "broken.png")], "cannot read the image .*broken.png"),
    ],
)
def test_bad_image_inputs_exit_2_and_write_nothing(digits_run, tmp_path, capsys, make_input, message):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "p.csv"
    assert main(["predict", str(digits_run), *make_input(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and pytest.importorskip("re").search(message, err)
    assert not out.exists()


def test_a_run_folder_must_be_complete_and_consistent(digits_run, tmp_path):
    with pytest.raises(ModelLoadError, match="without model.keras, model_card.json, report.json"):
        pipelines.load(tmp_path)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("model.keras", "model_card.json", "report.json"):
        (mixed / name).write_bytes((digits_run / name).read_bytes())
    report = json.loads((mixed / "report.json").read_text())
    (mixed / "report.json").write_text(json.dumps({**report, "pipeline": "vit"}))
    with pytest.raises(ModelLoadError, match="do not belong together: model_card.json is of 'mnist'"):
        pipelines.load(mixed)


def test_export_refuses_bad_requests_before_any_work(digits_run, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="expected a format in saved_model, onnx, litert. Received: 'tflite'"):
        export_run(tmp_path / "no-such-run", "tflite", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="expected a new or empty folder"):
        export_run(digits_run, "saved_model", tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real_find_spec(name)
    )
    with pytest.raises(
        ConfigError, match=r"needs onnxruntime, which is not installed: pip install 'keras-pipelines\[export\]'"
    ):
        export_run(digits_run, "onnx", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_an_artifact_that_differs_from_keras_is_not_kept(digits_run, tmp_path, monkeypatch, capsys):
    from pipelines import export

    real = export.run_artifact
    monkeypatch.setattr(export, "run_artifact", lambda path, x: {k: v + 1e-3 for k, v in real(path, x).items()})
    assert main(["export", str(digits_run), "--format", "saved_model", "--out", str(tmp_path / "e" / "out")]) == 1
    assert "differs from the Keras model's by up to 0.001" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()  # neither the folder nor the parent made for it
    monkeypatch.undo()
    assert main(["export", str(digits_run), "--format", "saved_model", "--out", str(tmp_path / "ok")]) == 0
    manifest = json.loads((tmp_path / "ok" / "export.json").read_text())
    assert manifest["inputs"] == {"images": {"dtype": "uint8", "shape": [None, 28, 28, 1]}}
    assert manifest["class_names"] == [str(d) for d in range(10)]
    assert manifest["check"]["max_abs_difference"]["probabilities"] < 1e-5
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["export.json", "saved_model"]


def test_read_images_refuses_arrays_of_another_kind():
    with pytest.raises(DataValidationError, match="expected uint8 images"):
        read_images(np.zeros((2, 28, 28), "float32"))
    images, names, conversions = read_images(np.zeros((3, 10, 12, 4), "uint8"))
    assert images.shape == (3, 28, 28, 1) and names == ["0", "1", "2"] and conversions[0] == "RGBA 12x10 -> L 28x28"
    assert read_images(np.zeros((1, 28, 28, 1), "uint8")).conversions == ["none"]
    # For a colour model, one (H, W, 3) image without its batch axis is refused, not read as H images.
    with pytest.raises(DataValidationError, match=r"Received shape \(32, 32, 3\): for one colour image add"):
        read_images(np.zeros((32, 32, 3), "uint8"), shape=(32, 32, 3))
    assert read_images(np.zeros((1, 32, 32, 3), "uint8"), shape=(32, 32, 3)).images.shape == (1, 32, 32, 3)


@pytest.mark.slow
def test_sentiment_and_advertising_runs_predict_texts_and_tables(tmp_path, capsys):
    texts, labels = polar_texts(400, seed=0)
    flip = np.random.default_rng(0).random(len(labels)) < 0.2  # a fifth mislabelled: nothing is certain
    labels = [("pos" if label == "neg" else "neg") if f else label for label, f in zip(labels, flip)]
    settings = {**PIPELINE_RUNS["sentiment"], "verbose": 0, "calibrate": "temperature"}
    run = pipelines.run(
        "sentiment", data=(texts, labels), class_names=["neg", "pos"], out=str(tmp_path / "s"), **settings
    )
    # Calibrated per fold. Measured: mean temperature 0.26 (label smoothing and four epochs leave the
    # net under-confident), out-of-fold ece 0.209 -> 0.076, log loss 0.612 -> 0.533.
    m = run.metrics
    assert m["temperature"] < 1 and m["ece"] < m["ece_uncalibrated"] - 0.05
    assert m["log_loss"] < m["log_loss_uncalibrated"]
    assert temperature_of(pipelines.load(tmp_path / "s").model) is not None  # the saved (last fold's) model
    capsys.readouterr()  # the runs' own lines
    (tmp_path / "texts.txt").write_text("a wonderful superb film\n\nthe plot was dull and awful\n")
    pd.DataFrame({"id": [1, 2], "review": ["lovely great scene", "poor boring movie"]}).to_csv(tmp_path / "t.csv")
    out = tmp_path / "s.csv"
    assert main(["predict", str(tmp_path / "s"), str(tmp_path / "texts.txt"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["input"].rsplit(":", 1)[1], r["prediction"]) for r in rows] == [("1", "pos"), ("3", "neg")]
    assert main(["predict", str(tmp_path / "s"), str(tmp_path / "t.csv"), "--text-column", "review"]) == 0
    assert [r["prediction"] for r in csv.DictReader(capsys.readouterr().out.splitlines())] == ["pos", "neg"]
    assert main(["predict", str(tmp_path / "s"), str(tmp_path / "t.csv"), "--text-column", "text"]) == 2
    assert "expected a column 'text'" in capsys.readouterr().err

    rng = np.random.default_rng(0)
    tv, radio = rng.uniform(0, 300, 60), rng.uniform(0, 50, 60)
    frame = pd.DataFrame({"tv": tv, "radio": radio, "units": 3 + 0.04 * tv + 0.2 * radio})
    pipelines.run("advertising", data=frame, out=str(tmp_path / "a"), **{**PIPELINE_RUNS["advertising"], "verbose": 0})
    frame.assign(extra="ignored").head(5).to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "a"), str(tmp_path / "new.csv")]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(rows) == 5 and np.allclose([float(r["units"]) for r in rows], frame["units"][:5], atol=3.0)
    frame[["tv"]].to_csv(tmp_path / "short.csv", index=False)
    assert main(["predict", str(tmp_path / "a"), str(tmp_path / "short.csv")]) == 2
    assert "without ['radio']" in capsys.readouterr().err


@pytest.mark.slow
def test_the_autoencoder_scores_unusual_images_higher(tmp_path, monkeypatch):
    data = bar_digits(600, 200, seed=0)
    monkeypatch.setattr(denoising_autoencoder, "load_mnist_family", lambda name, data_dir=None: data)
    pipelines.run(
        "denoising_autoencoder", out=str(tmp_path / "d"), **{**PIPELINE_RUNS["denoising_autoencoder"], "verbose": 0}
    )
    predictor = pipelines.load(tmp_path / "d")
    usual = predictor.anomaly_scores(data.x_test[:50])
    noise = predictor.anomaly_scores(np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype="uint8"))
    assert np.median(noise) > 2 * np.median(usual)
    denoised = predictor.predict(data.x_test[:3])
    assert denoised.shape == (3, 28, 28, 1)
    # The CLI: scores per file, and with --denoised the denoised images as PNGs; bad input writes nothing.
    for i in range(3):
        Image.fromarray(data.x_test[i]).save(tmp_path / f"in{i}.png")
    inputs = [str(tmp_path / f"in{i}.png") for i in range(3)]
    out, folder = tmp_path / "scores.csv", tmp_path / "denoised"
    assert main(["predict", str(tmp_path / "d"), *inputs, "--denoised", str(folder), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["denoised"] for r in rows] == [str(folder / f"{i:05d}_in{i}.png") for i in range(3)]
    assert [r["conversion"] for r in rows] == ["none"] * 3
    np.testing.assert_allclose([float(r["anomaly_score"]) for r in rows], usual[:3], rtol=1e-6)
    written = np.stack([np.asarray(Image.open(r["denoised"])) for r in rows])
    np.testing.assert_array_equal(written, np.round(denoised[..., 0] * 255).astype("uint8"))
    bad = [*inputs, str(tmp_path / "missing.png")]
    assert (
        main(
            ["predict", str(tmp_path / "d"), *bad, "--denoised", str(tmp_path / "d2"), "--out", str(tmp_path / "x.csv")]
        )
        == 2
    )
    assert not (tmp_path / "d2").exists() and not (tmp_path / "x.csv").exists()
