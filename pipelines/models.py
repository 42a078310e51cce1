"""Loading saved models safely.

`.keras` files are loaded with `safe_mode=True`, which refuses Lambda layers and other
deserialization that could run code from the file. Keras >= 3.14 is required: older
releases had safe_mode bypasses (CVE-2025-1550 fixed in 3.8, CVE-2025-9906 in 3.11,
CVE-2025-9905 and CVE-2025-49655 in 3.11.3, CVE-2026-1462 in 3.14).
"""

from __future__ import annotations

import os
import pkgutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.errors import ModelLoadError

__all__ = ["load_model", "register_keras_objects", "check_model_io", "MIN_SAFE_KERAS"]

# The first Keras release without a known safe_mode bypass (see the module docstring).
MIN_SAFE_KERAS = (3, 14)

# Besides every module of `pipelines.nets` (found, not listed, so a new net is never missed),
# the modules that register custom layers or functions with `keras.saving`.
_SERIALIZABLE_MODULES = ("pipelines.inputs.text_vectorizer", "pipelines.calibration", "pipelines.optimizers")


def _serializable_modules() -> list[str]:
    import pipelines.nets

    nets = [info.name for info in pkgutil.iter_modules(pipelines.nets.__path__, prefix="pipelines.nets.")]
    return [*nets, *_SERIALIZABLE_MODULES]


def register_keras_objects() -> None:
    """Registers every layer, schedule and function of the package with `keras.saving`.

    A `.keras` file names them; Keras must know them before it reads the file. Importing
    their modules registers them (`import pipelines.keras_objects` calls this).
    """
    import importlib

    for module in _serializable_modules():
        importlib.import_module(module)


def load_model(path: str | os.PathLike, custom_objects: dict[str, Any] | None = None) -> Any:
    """Loads a `.keras` model with `safe_mode=True`.

    Args:
        path: A `.keras` file written by `model.save`.
        custom_objects: Extra registered classes the model needs.

    Returns:
        The `keras.Model`.

    Raises:
        ModelLoadError: The file is missing, not a `.keras` archive, would need unsafe
            deserialization (e.g. it contains a Lambda layer), or the installed Keras is
            older than `MIN_SAFE_KERAS`.
    """
    import keras

    register_keras_objects()
    # setup.cfg pins this, but `pip install --no-deps` or an older environment can bypass the pin.
    version = tuple(int(part) for part in keras.__version__.split(".")[:2] if part.isdigit())
    if version < MIN_SAFE_KERAS:
        raise ModelLoadError(
            f"refusing to load models with Keras {keras.__version__}: its safe_mode can be bypassed. "
            f"Upgrade with pip install 'keras>={MIN_SAFE_KERAS[0]}.{MIN_SAFE_KERAS[1]}'."
        )
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"no model file at {str(path)!r}.")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{str(path)!r} is not a .keras model archive. Save models with model.save('x.keras').")
    try:
        return keras.saving.load_model(path, custom_objects=custom_objects, safe_mode=True)
    except Exception as e:  # Keras raises ValueError/TypeError/KeyError for many causes
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "safe_mode" in str(e) or "Lambda" in str(e):
            raise ModelLoadError(
                f"refused to load {str(path)!r}: it needs unsafe deserialization (e.g. a Lambda layer), "
                f"which could run code from the file. Keras said: {message}"
            ) from e
        raise ModelLoadError(f"cannot load {str(path)!r}: {message}") from e


def check_model_io(
    model: Any,
    inputs: Sequence[tuple[tuple[int | None, ...], str]],
    output: tuple[int | None, ...],
    *,
    task: str,
) -> None:
    """Refuses a model whose inputs or output do not fit what `task` feeds and scores.

    Read from the model's declared tensors, before it runs: a model that would fail on the
    task's data, or whose extra outputs would be silently ignored, is refused instead.

    Args:
        model: A loaded Keras model.
        inputs: One `(shape, kind)` per model input, the shape without the batch axis;
            `kind` is `"float"`, `"int"` or `"string"`. `None` in a shape matches any size.
        output: The one output's shape without the batch axis, `None` matching any size.
        task: The pipeline's name, for messages.

    Raises:
        ModelLoadError: Naming what the task expects and what the model has.

    Example:
        >>> import keras
        >>> x = keras.Input((3,))
        >>> model = keras.Model(x, keras.layers.Dense(2)(x))
        >>> try:
        ...     check_model_io(model, [((3,), "float")], (1,), task="advertising")
        ... except ValueError as e:
        ...     print(str(e)[:72])
        the advertising pipeline scores one output of shape (batch, 1). Received
    """
    model_inputs, model_outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if not model_inputs or not model_outputs:
        raise ModelLoadError(
            f"cannot check {type(model).__name__} against the {task} pipeline: it declares no input and output "
            "tensors. Save a functional or Sequential model."
        )
    expected = ", ".join(f"{kind} {_batched(shape)}" for shape, kind in inputs)
    received = ", ".join(f"{_kind(t.dtype)} {_batched(t.shape[1:])}" for t in model_inputs)
    fits = len(model_inputs) == len(inputs) and all(
        _kind(t.dtype) == kind and _same_shape(t.shape[1:], shape) for t, (shape, kind) in zip(model_inputs, inputs)
    )
    if not fits:
        raise ModelLoadError(
            f"the {task} pipeline feeds the model {len(inputs)} input(s): {expected}. Received a model taking "
            f"{received}. Pass a model trained by this pipeline (or one with the same inputs)."
        )
    shapes = [_batched(t.shape[1:]) for t in model_outputs]
    if len(model_outputs) != 1 or not _same_shape(model_outputs[0].shape[1:], output):
        raise ModelLoadError(
            f"the {task} pipeline scores one output of shape {_batched(output)}. Received a model with "
            f"{len(model_outputs)} output(s) of shape {', '.join(shapes)}: it would be scored on part of them."
        )


def _same_shape(got: Sequence[int | None], want: Sequence[int | None]) -> bool:
    return len(got) == len(want) and all(a is None or b is None or a == b for a, b in zip(got, want))


def _batched(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join(["batch", *("any" if d is None else str(d) for d in shape)]) + ")"


def _kind(dtype: Any) -> str:
    name = str(getattr(dtype, "name", dtype))
    return "string" if "string" in name else "int" if "int" in name else "float"
