"""Typed configuration dataclasses and the override machinery shared by every pipeline.

A pipeline's config is a dataclass whose every field has a default, a type hint and a
line of documentation (`param(..., doc=...)`). Overrides are plain keyword arguments;
nested sections are reached with dotted keys (`augment.rotation=0.05`). Values coming
from the command line are strings and are parsed against the field's type hint.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Toy(RunConfig):
    ...     epochs: int = param(3, "Training epochs.", ge=1)
    >>> cfg = apply_overrides(Toy(), {"epochs": "5"}, from_strings=True)
    >>> cfg.epochs
    5
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from pipelines.errors import ConfigError

__all__ = [
    "param",
    "RunConfig",
    "TrainConfig",
    "OptimizerSettings",
    "OPTIMIZERS",
    "SCHEDULES",
    "AugmentConfig",
    "apply_overrides",
    "parse_assignment",
    "config_to_dict",
    "validate_config",
    "check_field",
    "field_value",
    "TEST_EVALUATION_DOC",
    "check_fields",
    "field_docs",
    "MAX_EPOCHS",
]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def param(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    factory: Any = None,
) -> Any:
    """Declares a config field with its documentation and constraints.

    Args:
        default: The default value. Mutable defaults go through `factory`.
        doc: One line saying what the field controls.
        ge, gt, le, lt: Numeric bounds checked by `validate_config`.
        choices: The allowed values, checked by `validate_config`.
        factory: A zero-argument callable building the default (nested configs, lists).

    Returns:
        A `dataclasses.field`.
    """
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# A guard against typed-in zeros (epochs=1000000000 used to start a run that never ends):
# ten thousand is far beyond any schedule here (the defaults are 3 to 9 epochs).
MAX_EPOCHS = 10_000


@dataclass
class AugmentConfig:
    """Training-only image augmentation (Keras preprocessing layers).

    Rotation is a fraction of a full turn, as in `keras.layers.RandomRotation`; translation
    and zoom are fractions of the image size. Flips and pad-and-crop are off by default, for
    digits (a flipped 2 is no digit); the image classifiers turn them on for colour images.
    """

    use_augmentation: bool = param(True, "Apply augmentation to the training split.")
    rotation: float = param(0.03, "RandomRotation factor (fraction of 2*pi).", ge=0, le=0.5)
    translation: float = param(0.08, "RandomTranslation height/width factor.", ge=0, le=0.5)
    zoom: float = param(0.08, "RandomZoom height/width factor.", ge=0, lt=1)
    strength: float = param(
        1.0, "RandAugment-style global magnitude: multiplies rotation, translation and zoom.", ge=0, le=4
    )
    flip: bool = param(False, "Random horizontal flips (each image its own draw).")
    pad_crop: int = param(
        0,
        "Pad-and-crop: shift each image by up to this many whole pixels, the border reflected (0: off).",
        ge=0,
        le=64,
    )


@dataclass
class RunConfig:
    """Run-level settings every pipeline shares: where data and outputs go, devices, seeds."""

    seed: int = param(1337, "Seed for Python, NumPy, TensorFlow and the data pipeline.", ge=0, le=2**32 - 1)
    data_dir: str | None = param(None, "Explicit dataset directory (else env var, cache, download).")
    out: str | None = param(None, "Run directory (default reports/<pipeline>/<timestamp>/).")
    device: str = param("auto", "auto | cpu | gpu | gpu:0,1 | cpu:0,1 (logical CPUs, for tests).")
    precision: str = param(
        "float32",
        "Keras dtype policy.",
        choices=("float32", "mixed_float16", "mixed_bfloat16"),
    )
    jit_compile: bool = param(False, "XLA-compile the train step (slower for small CPU nets).")
    deterministic: bool = param(False, "Enable TensorFlow op determinism (slower).")
    verbose: int = param(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line/epoch.", choices=(0, 1, 2))
    tensorboard: bool = param(
        False, "Write TensorBoard logs into the run directory, with the config and final metrics as HParams."
    )
    track: str = param(
        "none", "Log the finished run to an experiment tracker: none | mlflow.", choices=("none", "mlflow")
    )
    track_uri: str | None = param(
        None, "MLflow tracking URI; None: sqlite:///mlflow.db here (artifacts beside it in mlruns/<pipeline>/)."
    )
    workers: tuple[str, ...] = param(
        (), "Every worker's host:port, the same list on each host, for a multi-worker run (else TF_CONFIG is read)."
    )
    worker_index: int | None = param(None, "This process's index in `workers`; 0 is the chief.", ge=0)


OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "exponential", "one_cycle")


@dataclass
class OptimizerSettings:
    """The optimizer fields every trained pipeline shares (its learning rate, weight decay
    and warm-up are the pipeline's own, with its own defaults)."""

    optimizer: str = param(
        "adam",
        "adam | adamw (adam with weight_decay > 0) | sgd (momentum, nesterov) | rmsprop (momentum).",
        choices=OPTIMIZERS,
    )
    schedule: str = param(
        "cosine",
        "Learning rate after the warm-up: constant | cosine (to 0) | step (/10 at 50 % and 75 %) | "
        "exponential (to 1 %) | one_cycle (up from 1/25 over 30 % or the warm-up, cosine down).",
        choices=SCHEDULES,
    )
    momentum: float = param(0.9, "Momentum of sgd and rmsprop.", ge=0, lt=1)
    nesterov: bool = param(False, "Nesterov momentum (sgd only).")
    clipnorm: float = param(0.0, "Clip each variable's gradient to this L2 norm; 0 disables.", ge=0)
    clipvalue: float = param(0.0, "Clip each gradient entry to [-v, v]; 0 disables.", ge=0)


def check_optimizer_settings(config: Any) -> None:
    """Refuses combinations of `OptimizerSettings` fields that would be silently ignored.

    Raises:
        ConfigError: `adamw` without weight decay, both clippings, or `nesterov` off `sgd`.
    """
    if config.optimizer == "adamw" and getattr(config, "weight_decay", 0.0) <= 0:
        raise ConfigError(
            "optimizer='adamw' needs weight_decay > 0 (adamw is adam with decoupled weight decay). "
            f"Received: weight_decay={getattr(config, 'weight_decay', 0.0)}; set e.g. weight_decay=0.05"
        )
    if config.clipnorm > 0 and config.clipvalue > 0:
        raise ConfigError(
            "clip gradients by norm or by value, not both (Keras takes one). "
            f"Received: clipnorm={config.clipnorm}, clipvalue={config.clipvalue}; set the other to 0"
        )
    if config.nesterov and config.optimizer != "sgd":
        raise ConfigError(f"nesterov applies to optimizer='sgd'. Received: optimizer={config.optimizer!r}")


@dataclass
class TrainConfig(OptimizerSettings, RunConfig):
    """Settings of a supervised Keras training loop."""

    epochs: int = param(10, "Maximum number of training epochs.", ge=1, le=MAX_EPOCHS)
    batch_size: int = param(128, "Global batch size.", ge=1)
    learning_rate: float = param(1e-3, "Peak learning rate.", gt=0)
    weight_decay: float = param(0.0, "Decoupled weight decay (AdamW); 0 means Adam.", ge=0)
    warmup_epochs: float = param(0.0, "Linear warm-up length before cosine decay.", ge=0)
    validation_fraction: float = param(0.1, "Share of the training set held out for validation.", gt=0, lt=1)
    early_stopping_patience: int = param(5, "Epochs without validation gain before stopping; 0 disables.", ge=0)
    max_train_samples: int | None = param(None, "Use only this many training samples (quick runs).", ge=1)
    steps_per_execution: int = param(1, "Training steps per compiled graph call (less Python overhead).", ge=1)
    overfit_batches: int = param(
        0,
        "Sanity mode: train on only the first N training batches and report whether the model memorized them; "
        "0 trains normally.",
        ge=0,
    )


# ----------------------------------------------------------------------------- overrides


def apply_overrides(
    config: Any, overrides: Mapping[str, Any], *, from_strings: bool = False, validate: bool = True
) -> Any:
    """Returns a copy of `config` with `overrides` applied, then validated.

    Args:
        config: A config dataclass instance. It is not modified.
        overrides: Field names to values. Dotted names reach nested sections; a dict value
            for a nested section updates several of its fields.
        from_strings: Parse string values against the field type (command-line input).
        validate: Validate the result (off for a step towards a config validated later).

    Returns:
        A new, validated config.

    Raises:
        ConfigError: An unknown key, a value of the wrong type, or one out of range.
    """
    new = _deep_copy(config)
    for key, value in overrides.items():
        _assign(new, str(key), value, from_strings, path=str(key))
    if validate:
        validate_config(new)
    return new


def check_fields(config: Any) -> None:
    """Checks every field's type, bounds and choices (not the config's cross-field rules).

    Raises:
        ConfigError: The first field at fault.
    """
    _validate(config, prefix="")


def check_field(config: Any, key: str, value: Any, *, from_strings: bool = False) -> Any:
    """`value` for the dotted field `key` of `config`, parsed and checked against that field
    alone (its type, bounds and choices; not the config's cross-field rules).

    Raises:
        ConfigError: An unknown key, or a value the field does not take.

    Example:
        >>> @dataclass
        ... class Toy(RunConfig):
        ...     epochs: int = param(3, "Training epochs.", ge=1)
        >>> check_field(Toy(), "epochs", "5", from_strings=True)
        5
    """
    new = apply_overrides(config, {key: value}, from_strings=from_strings, validate=False)
    _validate(new, prefix="")
    return field_value(new, key)


def field_value(config: Any, key: str) -> Any:
    """The value of the dotted field `key` (`augment.flip`) of `config`."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


TEST_EVALUATION_DOC = (
    "Evaluate on the test set at the end; off for tuning trials, which are scored on the validation split."
)


def parse_assignment(text: str) -> tuple[str, str]:
    """Splits a command-line `key=value` into its parts.

    Raises:
        ConfigError: No `=` or an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"expected key=value. Received: {text!r}")
    return key.strip(), value.strip()


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of the config (nested sections become dicts)."""
    return dataclasses.asdict(config)


def field_docs(config_cls: type, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """Lists (dotted name, type, default, doc) for every field, nested ones included."""
    rows = []
    hints = typing.get_type_hints(config_cls)
    for f in fields(config_cls):
        tp = hints[f.name]
        factory = f.default_factory
        default = f.default if factory is dataclasses.MISSING else factory()
        if is_dataclass(default):
            rows.extend(field_docs(type(default), prefix=f"{prefix}{f.name}."))
        else:
            rows.append((prefix + f.name, _type_name(tp), default, f.metadata.get("doc", "")))
    return rows


def validate_config(config: Any) -> None:
    """Checks every field's type and declared bounds, then the config's own `validate()`.

    Raises:
        ConfigError: The first problem found, naming the field, the expectation and the value.
    """
    _validate(config, prefix="")
    if isinstance(config, RunConfig):
        # Here rather than in RunConfig.validate(): the pipelines' own validate() overrides it.
        from pipelines.worker_cluster import check_workers

        check_workers(config.workers, config.worker_index)
        if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ConfigError(
                "tensorboard=True writes TensorBoard logs, which needs the tensorboard package: "
                "pip install 'keras-pipelines[tensorboard]'"
            )
        from pipelines.tracking import check_tracking

        check_tracking(config)
    if isinstance(config, OptimizerSettings):
        check_optimizer_settings(config)
    if getattr(config, "overfit_batches", 0) and config.workers:
        raise ConfigError("overfit_batches is a one-machine sanity check: drop workers, or set overfit_batches=0.")
    check = getattr(config, "validate", None)
    if callable(check):
        check()


def _validate(config: Any, prefix: str) -> None:
    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        name = prefix + f.name
        value = getattr(config, f.name)
        if is_dataclass(value):
            _validate(value, prefix=name + ".")
            continue
        _check_type(name, value, hints[f.name])
        meta = f.metadata
        if value is None:
            continue
        if meta.get("choices") is not None and value not in meta["choices"]:
            allowed = ", ".join(repr(c) for c in meta["choices"])
            raise ConfigError(f"{name} must be one of {allowed}. Received: {name}={value!r}")
        for bound, ok, word in (
            ("ge", lambda v, b: v >= b, ">="),
            ("gt", lambda v, b: v > b, ">"),
            ("le", lambda v, b: v <= b, "<="),
            ("lt", lambda v, b: v < b, "<"),
        ):
            b = meta.get(bound)
            if b is not None and isinstance(value, (int, float)) and not ok(value, b):
                raise ConfigError(f"{name} must be {word} {b}. Received: {name}={value!r}")


def _check_type(name: str, value: Any, tp: Any) -> None:
    if not _matches(value, tp):
        raise ConfigError(
            f"{name} must be of type {_type_name(tp)}. Received: {name}={value!r} ({type(value).__name__})"
        )


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, t) for t in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value)
    if tp is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(_matches(v, t) for v, t in zip(value, args))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    return isinstance(value, tp) if isinstance(tp, type) else True


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _deep_copy(config: Any) -> Any:
    changes = {
        f.name: _deep_copy(getattr(config, f.name)) for f in fields(config) if is_dataclass(getattr(config, f.name))
    }
    return dataclasses.replace(config, **changes)


def _assign(config: Any, key: str, value: Any, from_strings: bool, path: str) -> None:
    head, _, rest = key.partition(".")
    known = {f.name: f for f in fields(config)}
    if head not in known:
        close = [k for k in known if head.lower() in k or k in head.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown config key {path!r} for {type(config).__name__}.{hint} Known keys: {', '.join(sorted(known))}"
        )
    current = getattr(config, head)
    if is_dataclass(current):
        if rest:
            _assign(current, rest, value, from_strings, path)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                _assign(current, str(k), v, from_strings, f"{path}.{k}")
        elif is_dataclass(value) and type(value) is type(current):
            setattr(config, head, _deep_copy(value))
        else:
            raise ConfigError(f"{path} is a section; set its fields, e.g. {path}.<field>=... Received: {value!r}")
        return
    if rest:
        raise ConfigError(f"{head!r} has no sub-keys. Received: {path!r}")
    tp = typing.get_type_hints(type(config))[head]
    if from_strings and isinstance(value, str):
        value = _parse_string(path, value, tp)
    elif isinstance(value, list) and _takes_tuple(tp):
        value = tuple(value)
    setattr(config, head, value)


def _takes_tuple(tp: Any) -> bool:
    # A list from Python (class_names=["neg", "pos"]) fills a tuple field, optional ones included.
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_takes_tuple(t) for t in typing.get_args(tp))
    return typing.get_origin(tp) is tuple


def _parse_string(name: str, text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and text.lower() in {"none", "null", ""}:
            return None
        errors = []
        for t in args:
            if t is type(None):
                continue
            try:
                return _parse_string(name, text, t)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"cannot parse {name}={text!r}")
    try:
        if tp is bool:
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if tp is int:
            return int(text)
        if tp is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
            return value
        if tp is str:
            return text
        if origin is tuple:
            args = typing.get_args(tp)
            # "64,128" and the Python spelling "(64, 128)" both read as a tuple.
            bare = text.strip().removeprefix("(").removesuffix(")").removeprefix("[").removesuffix("]")
            parts = [p.strip() for p in bare.split(",") if p.strip()]
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_parse_string(name, p, args[0]) for p in parts)
            return tuple(_parse_string(name, p, t) for p, t in zip(parts, args))
    except ValueError:
        pass
    else:
        return text
    raise ConfigError(f"{name} must be of type {_type_name(tp)}. Received: {name}={text!r}")
