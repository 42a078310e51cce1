"""Trained models the package keeps for reuse (e.g. an IMDB sentiment model to fine-tune
on MR, the MNIST classifier behind the DCGAN's FID), each with its model card.

Where: `$PIPELINES_MODELS_DIR`; else the `models/` folder of a source checkout; else
`$XDG_CACHE_HOME/keras-pipelines/models` (by default `~/.cache/keras-pipelines/models`).
A missing model is trained on first use by a normal pipeline run, then copied in
atomically, so a crash never leaves a half-written model under its final name.

Usage (trains the model on first use):

    path = kept_model("sentiment_imdb", lambda out: pipelines.run("sentiment", out=out))
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines import atomic

__all__ = ["MODELS_DIR_ENV", "models_dir", "kept_model"]

MODELS_DIR_ENV = "PIPELINES_MODELS_DIR"


def models_dir() -> Path:
    """The folder of kept models (created when first written)."""
    env = os.environ.get(MODELS_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    root = Path(__file__).resolve().parents[1]
    if (root / "models").is_dir() and (root / "setup.cfg").is_file():
        return root / "models"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "keras-pipelines" / "models"


def kept_model(name: str, train: Callable[[str], Any]) -> Path:
    """The path of kept model `name`, training it first if it is missing.

    Args:
        name: File stem: the model is `<name>.keras`, its card `<name>.model_card.json`.
        train: Called as `train(run_dir)` when the model is missing; it must write
            `model.keras` and `model_card.json` into `run_dir` (as `pipelines.run` does).

    Returns:
        The path of `<name>.keras`.
    """
    folder = models_dir()
    path = folder / f"{name}.keras"
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Training the kept model {name!r} once; it is saved to {path}.", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-", dir=folder) as run_dir:
        train(run_dir)
        card = Path(run_dir) / "model_card.json"
        if card.is_file():
            atomic.write_bytes(folder / f"{name}.model_card.json", card.read_bytes())
        with atomic.atomic_path(path) as tmp:
            shutil.copyfile(Path(run_dir) / "model.keras", tmp)
    return path
