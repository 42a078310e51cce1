"""Loading saved models safely.

`.keras` files are loaded with `safe_mode=True`, which refuses Lambda layers and other
deserialization that could run code from the file. Keras >= 3.12 is required: older
releases had safe_mode bypasses (CVE-2025-1550, CVE-2025-9906).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

from pipelines.errors import ModelLoadError

__all__ = ["load_model"]

# Modules that register custom layers or functions with `keras.saving`.
_SERIALIZABLE_MODULES = ("pipelines.nets.autoencoder", "pipelines.nets.gan", "pipelines.nets.mlp", "pipelines.nets.rnn", "pipelines.nets.vit", "pipelines.inputs.text_dataset")


def load_model(path: str | os.PathLike, custom_objects: dict[str, Any] | None = None) -> Any:
    """Loads a `.keras` model with `safe_mode=True`.

    Args:
        path: A `.keras` file written by `model.save`.
        custom_objects: Extra registered classes the model needs.

    Returns:
        The `keras.Model`.

    Raises:
        ModelLoadError: The file is missing, not a `.keras` archive, or would need unsafe
            deserialization (e.g. it contains a Lambda layer).
    """
    import importlib

    import keras

    # Our registered layers and functions must be known to Keras before it reads a file
    # that names them; importing their modules registers them.
    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(module)
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
