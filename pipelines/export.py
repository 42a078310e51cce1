"""Export a finished run for serving: SavedModel, ONNX or LiteRT, taking raw inputs.

`export_run(RUN_DIR, format, out)` wraps the run's model so that the artifact takes what a
user has, not what the net was trained on, and gives what a user wants:

| pipeline | inputs | outputs |
|---|---|---|
| mnist, vit | `images`: uint8 (n, h, w, c) as trained | `probabilities`: (n, classes), in `class_names` order |
| denoising_autoencoder | `images`: uint8 (n, 28, 28, 1) | `denoised`: float32 in [0, 1]; `anomaly_score`: (n,) |
| advertising | `features`: float32 (n, k), the training columns in order | `prediction`: (n,) |
| sentiment | `texts`: string (n,) | `probabilities`: (n, 2), NaN for a text without a known word |
| dcgan | `noise`: float32 (n, 100), N(0, 1); `label`: int32 (n,) if conditional | `images`: uint8 (n, 28, 28, 1) |

The export is built with Keras's `model.export` (`tf_saved_model`, `onnx` through tf2onnx,
`litert` through the TensorFlow Lite converter), then reloaded by its own runtime
(`tf.saved_model.load`, onnxruntime, the LiteRT interpreter) and checked against the
Keras model on seeded probe inputs; `export.json` beside the artifact records the
signature, the class names, the preprocessing and that check. A pipeline a format cannot
carry is refused before any work (`EXPORT_FORMATS` lists what works).

Usage (after a run):

    export_run("runs/m1", "onnx", "exports/m1")   # exports/m1/model.onnx, exports/m1/export.json
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ConfigError, ExportError
from pipelines.predictor import IMAGE_PIPELINES, image_shape

__all__ = ["EXPORT_FORMATS", "REFUSED", "ARTIFACTS", "export_run", "serving_model", "run_artifact", "load_artifact"]

FORMATS = ("saved_model", "onnx", "litert")
ARTIFACTS = {"saved_model": "saved_model", "onnx": "model.onnx", "litert": "model.tflite"}
_KERAS_FORMAT = {"saved_model": "tf_saved_model", "onnx": "onnx", "litert": "litert"}
# Measured: each pipeline below exports, reloads and matches its Keras model in each listed format.
EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "mnist": FORMATS,
    "vit": FORMATS,
    "denoising_autoencoder": FORMATS,
    "advertising": FORMATS,
    "dcgan": FORMATS,
    "sentiment": ("saved_model",),
}
_STRING_OPS = (
    "the model reads raw strings: its text preprocessing (lower-casing, stripping punctuation, "
    "splitting, vocabulary lookup) is TensorFlow string ops"
)
REFUSED: dict[tuple[str, str], str] = {
    ("sentiment", "onnx"): f"{_STRING_OPS}, which ONNX's standard operators do not have",
    ("sentiment", "litert"): f"{_STRING_OPS} (and its RNN a TensorList loop), which need LiteRT's Flex "
    "delegate, absent from the standard interpreter",
}
# The largest difference between the artifact and the Keras model on the probe inputs that
# counts as the same model: float32 round-off (1e-5 plus one part in a million of the value),
# and one grey level for uint8 images.
_TOLERANCE = {"float": 1e-5, "uint8": 1}
_RELATIVE = 1e-6
_PROBES = 64


def export_run(run_dir: str | os.PathLike, format: str, out: str | os.PathLike) -> Path:
    """Exports a finished run's model for serving; returns the folder `out`.

    Args:
        run_dir: A finished run's folder (see `pipelines.load`).
        format: `"saved_model"`, `"onnx"` or `"litert"`.
        out: A new or empty folder; it receives the artifact (`saved_model/`, `model.onnx`
            or `model.tflite`) and `export.json`.

    Raises:
        ConfigError: An unknown format, one the pipeline cannot be exported to (the message
            lists those it can), or a missing optional dependency.
        OutputDirError: `out` is not a new or empty folder.
        ModelLoadError: `run_dir` is not a finished run.
        ExportError: The reloaded artifact does not reproduce the Keras model.
    """
    from pipelines.atomic import atomic_dir, check_new_folder
    from pipelines.predictor import load

    if format not in FORMATS:
        raise ConfigError(f"expected a format in {', '.join(FORMATS)}. Received: {format!r}")
    _check_dependencies(format)
    check_new_folder(out)
    predictor = load(run_dir)
    supported = EXPORT_FORMATS.get(predictor.pipeline, ())
    if format not in supported:
        reason = REFUSED.get((predictor.pipeline, format), "no export is built for it")
        raise ConfigError(
            f"a {predictor.pipeline} run cannot be exported to {format}: {reason}. "
            f"It exports to: {', '.join(supported) or 'nothing'}"
        )
    model = serving_model(predictor)
    probes = _probe_inputs(predictor, model)
    expected = {k: np.asarray(v) for k, v in model.predict(probes, verbose=0).items()}
    _ready_for(format, model)
    with atomic_dir(out) as folder:
        artifact = folder / ARTIFACTS[format]
        model.export(str(artifact), format=_KERAS_FORMAT[format], verbose=False)
        got = run_artifact(artifact, probes)
        differences = _check_same(expected, got, format)
        manifest = _manifest(predictor, model, format, differences)
        (folder / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(out)


def serving_model(predictor: Any) -> Any:
    """The run's model with raw inputs and named outputs (see the module docstring's table).

    Args:
        predictor: A `pipelines.load(...)` result.

    Returns:
        A functional `keras.Model` taking and returning dicts.
    """
    import keras
    from keras import ops

    name, net = predictor.pipeline, predictor.model
    if name in IMAGE_PIPELINES:
        images = keras.Input(image_shape(net), dtype="uint8", name="images")
        x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(ops.cast(images, "float32"))
        y = net(x)
        if name == "denoising_autoencoder":
            score = ops.mean(ops.square(y - x), axis=(1, 2, 3))
            return keras.Model({"images": images}, {"denoised": y, "anomaly_score": score})
        return keras.Model({"images": images}, {"probabilities": keras.layers.Softmax(name="softmax")(y)})
    if name == "advertising":
        features = keras.Input((len(predictor.config["features"]),), dtype="float32", name="features")
        return keras.Model({"features": features}, {"prediction": ops.squeeze(net(features), axis=-1)})
    if name == "sentiment":
        texts = keras.Input((), dtype="string", name="texts")
        p = ops.squeeze(net(ops.expand_dims(texts, -1)), axis=-1)
        return keras.Model({"texts": texts}, {"probabilities": ops.stack([1.0 - p, p], axis=1)})
    if name == "dcgan":
        inputs = {t.name: keras.Input(tuple(t.shape[1:]), dtype=t.dtype, name=t.name) for t in net.inputs}
        generated = net(list(inputs.values()) if len(inputs) > 1 else inputs["noise"])
        pixels = ops.clip(ops.round((generated + 1.0) * 127.5), 0, 255)
        return keras.Model(inputs, {"images": ops.cast(pixels, "uint8")})
    raise ConfigError(f"no serving model is built for {name!r} runs")


def run_artifact(artifact: str | os.PathLike, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs an exported artifact with its own runtime on named inputs; returns the named outputs.

    Args:
        artifact: A `saved_model/` folder, a `.onnx` or a `.tflite` file written by `export_run`.
        inputs: The serving model's inputs by name (see the module docstring).
    """
    return load_artifact(artifact)(inputs)


def load_artifact(artifact: str | os.PathLike) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Loads an exported artifact once; the result maps named inputs to named outputs.

    SavedModel through `tf.saved_model.load` and its `serving_default` signature, ONNX through
    onnxruntime (CPU), LiteRT through the `ai_edge_litert` interpreter (TensorFlow's own
    `tf.lite.Interpreter` without it) and its signature runner.
    """
    path = Path(artifact)
    if path.suffix == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return lambda inputs: dict(zip(names, session.run(names, inputs)))
    if path.suffix == ".tflite":
        runner = _litert_interpreter(path).get_signature_runner()
        return lambda inputs: {k: np.asarray(v) for k, v in runner(**inputs).items()}
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # held by the closure: its variables die with it

    def serve(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
        return {k: v.numpy() for k, v in outputs.items()}

    return serve


def _litert_interpreter(path: Path) -> Any:
    if importlib.util.find_spec("ai_edge_litert") is not None:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(str(path))
    import tensorflow as tf

    return tf.lite.Interpreter(str(path))  # deprecated in favour of ai_edge_litert, still shipped


def _ready_for(format: str, model: Any) -> None:
    """Rewrites, in place and with the same function, what a format's converter cannot carry.

    ONNX: exact GELU is `0.5 x erfc(-x / sqrt 2)` in TensorFlow, and ONNX has Erf but no
    Erfc; an adapted Normalization's mean and variance are captured tensors, which tf2onnx
    turns into graph inputs, and as NumPy arrays they become constants. LiteRT: the DCGAN's
    cluster code draws with erf, which LiteRT lacks; it compares with fixed thresholds instead.
    """
    import keras
    from keras import ops

    from pipelines.nets.cluster_code import ClusterCode

    if format == "litert":
        for layer in model._flatten_layers():
            if isinstance(layer, ClusterCode):
                layer.freeze_thresholds()
    if format != "onnx":
        return

    def gelu(x: Any) -> Any:
        return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))

    for layer in model._flatten_layers():
        if getattr(getattr(layer, "activation", None), "__name__", "") == "gelu":
            layer.activation = gelu
        if isinstance(layer, keras.layers.Normalization) and layer.mean is not None:
            layer.mean, layer.variance = (ops.convert_to_numpy(v) for v in (layer.mean, layer.variance))


def _check_dependencies(format: str) -> None:
    needs = {"onnx": ("tf2onnx", "onnx", "onnxruntime"), "litert": ("ai_edge_litert",)}.get(format, ())
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(
            f"exporting to {format} needs {', '.join(missing)}, which is not installed: "
            "pip install 'keras-pipelines[export]'"
        )


def _probe_inputs(predictor: Any, model: Any) -> dict[str, np.ndarray]:
    # Seeded inputs of the right kind: the check is that two runtimes agree, not that they are right.
    rng = np.random.default_rng(0)
    name = predictor.pipeline
    if name in IMAGE_PIPELINES:
        return {"images": rng.integers(0, 256, (_PROBES, *image_shape(predictor.model)), dtype="uint8")}
    if name == "advertising":
        return {"features": rng.uniform(0, 100, (_PROBES, len(predictor.config["features"]))).astype("float32")}
    if name == "sentiment":
        words = _vocabulary(predictor.model)[2:502]
        texts = [" ".join(rng.choice(words, size=8)) for _ in range(_PROBES)]
        return {"texts": np.asarray(texts, dtype=object)}
    latent_dim = int(model.input["noise"].shape[1])
    probes = {"noise": rng.standard_normal((_PROBES, latent_dim)).astype("float32")}
    if predictor.num_classes is not None:
        probes["label"] = rng.integers(0, predictor.num_classes, _PROBES).astype("int32")
    return probes


def _vocabulary(model: Any) -> list[str]:
    import keras

    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.TextVectorization):
            return [str(w) for w in layer.get_vocabulary()]
    raise ConfigError("expected a sentiment model with its TextVectorization layer")


def _check_same(expected: dict[str, np.ndarray], got: dict[str, np.ndarray], format: str) -> dict[str, float]:
    if set(got) != set(expected):
        raise ExportError(f"the {format} artifact gives the outputs {sorted(got)}, expected {sorted(expected)}")
    differences = {}
    for key, want in expected.items():
        have = np.asarray(got[key])
        uint8 = want.dtype == np.uint8
        tolerance = _TOLERANCE["uint8" if uint8 else "float"]
        if have.shape != want.shape:
            raise ExportError(f"the {format} artifact's {key!r} has shape {have.shape}, expected {want.shape}")
        if want.dtype.kind == "f" and not np.array_equal(np.isnan(want), np.isnan(have)):
            raise ExportError(f"the {format} artifact's {key!r} is NaN where the Keras model's is not, or back")
        want64, have64 = want.astype("float64"), have.astype("float64")
        excess = np.abs(want64 - have64) - tolerance - (0 if uint8 else _RELATIVE * np.abs(want64))
        diff = float(np.nanmax(np.abs(want64 - have64))) if want.size else 0.0
        if want.size and np.nanmax(excess) > 0:
            raise ExportError(
                f"the {format} artifact's {key!r} differs from the Keras model's by up to {diff:g} "
                f"(tolerance {tolerance:g}{'' if uint8 else f' + {_RELATIVE:g} x |value|'})"
            )
        differences[key] = diff
    return differences


def _manifest(predictor: Any, model: Any, format: str, differences: dict[str, float]) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    def spec(t: Any) -> dict[str, Any]:
        return {"dtype": str(t.dtype), "shape": [None if d is None else int(d) for d in t.shape]}

    return {
        "pipeline": predictor.pipeline,
        "format": format,
        "artifact": ARTIFACTS[format],
        "run_dir": str(Path(predictor.run_dir).resolve()),
        "inputs": {t.name: spec(t) for t in model.inputs},
        "outputs": {k: spec(t) for k, t in model.output.items()},
        "class_names": predictor.class_names,
        "features": predictor.config.get("features") if predictor.pipeline == "advertising" else None,
        "check": {
            "probe_inputs": _PROBES,
            "max_abs_difference": differences,
            "against": "the Keras model, on seeded probe inputs",
        },
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
