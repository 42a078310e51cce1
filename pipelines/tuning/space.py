"""Search spaces over a pipeline's config fields, written as `KEY=SPEC`.

SPEC is one of:
- `log:LOW:HIGH`: a number drawn on a log scale (learning rates, weight decay);
- `float:LOW:HIGH`, `int:LOW:HIGH`: uniform;
- `choice:A,B,C`: one of the values, each read as the field reads it from the command
  line (for a tuple field, separate the choices with `|`: `choice:64,64|128,128`).

Each dimension is checked against its field before any work: the key must exist, the kind
must suit the field's type (numbers for `log`, `float` and `int`; any field for `choice`),
and every bound or choice must be a value the field accepts (its range and choices).

Example:
    >>> from pipelines.tasks.advertising import AdvertisingConfig
    >>> dim = parse_dimension(AdvertisingConfig(), "learning_rate", "log:1e-4:1e-2")
    >>> dim.kind, dim.low, dim.high
    ('log', 0.0001, 0.01)
    >>> parse_dimension(AdvertisingConfig(), "activation", "choice:silu,relu").choices
    ('silu', 'relu')
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.config import check_field
from pipelines.errors import ConfigError

__all__ = ["Dimension", "parse_dimension", "parse_space", "KINDS"]

KINDS = ("log", "float", "int", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched field.

    Attributes:
        key: The dotted config field.
        kind: `log`, `float`, `int` or `choice`.
        low, high: The range (`log`, `float`, `int`).
        choices: The values as the command line spells them (`choice`), parsed by the field.
        spec: The SPEC as given, for the study's record.
    """

    key: str
    kind: str
    spec: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def suggest(self, trial: Any, config: Any) -> Any:
        """Draws this dimension's value from an Optuna trial, as the field's type."""
        if self.kind == "choice":
            return self.parse(trial.suggest_categorical(self.key, list(self.choices)), config)
        if self.kind == "int" or (self.kind == "log" and _is_int(config, self.key)):
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.kind == "log")  # type: ignore[arg-type]
        return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.kind == "log")  # type: ignore[arg-type]

    def spelling_of(self, value: Any, config: Any) -> Any | None:
        """`value` as this dimension would draw it (a choice's spelling, or the number), or None
        when it lies outside the dimension."""
        if self.kind == "choice":
            return next((c for c in self.choices if self.parse(c, config) == value), None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return value if self.low <= value <= self.high else None  # type: ignore[operator]

    def parse(self, raw: Any, config: Any) -> Any:
        """A value Optuna recorded for this dimension (a choice's spelling, or a number), as the field's type."""
        return check_field(config, self.key, raw, from_strings=self.kind == "choice")


def parse_space(config: Any, specs: Mapping[str, str]) -> dict[str, Dimension]:
    """Every `KEY: SPEC` of `specs` as a checked `Dimension` (see the module docstring).

    Raises:
        ConfigError: The first bad key or SPEC, naming it and what is expected.
    """
    return {key: parse_dimension(config, key, spec) for key, spec in specs.items()}


def parse_dimension(config: Any, key: str, spec: str) -> Dimension:
    """One `KEY=SPEC` as a checked `Dimension` (see the module docstring).

    Raises:
        ConfigError: An unknown key, an unknown kind, a kind the field cannot take, or a
            bound or choice the field refuses.
    """
    where = f"--space {key}={spec}"
    kind, sep, rest = str(spec).partition(":")
    if not sep or kind not in KINDS:
        raise ConfigError(
            f"{where}: expected log:LOW:HIGH, float:LOW:HIGH, int:LOW:HIGH or choice:A,B,... Received kind {kind!r}"
        )
    field_type = _field_type(config, key, where)
    if kind == "choice":
        separator = "|" if _is_tuple(field_type) else ","
        choices = tuple(c.strip() for c in rest.split(separator) if c.strip())
        if len(choices) < 2:
            raise ConfigError(f"{where}: expected at least two choices, separated by {separator!r}")
        for choice in choices:
            _check_value(config, key, choice, where)
        return Dimension(key, kind, str(spec), choices=choices)
    if not _is_number(field_type):
        raise ConfigError(f"{where}: {key} is not a number; search it with choice:A,B,...")
    if kind == "int" and not _is_int(config, key):
        raise ConfigError(f"{where}: {key} is a float; use float:LOW:HIGH or log:LOW:HIGH")
    if kind == "float" and _is_int(config, key):
        raise ConfigError(f"{where}: {key} is an integer; use int:LOW:HIGH or log:LOW:HIGH")
    bounds = rest.split(":")
    if len(bounds) != 2:
        raise ConfigError(f"{where}: expected {kind}:LOW:HIGH")
    low, high = (_check_value(config, key, b.strip(), where) for b in bounds)
    if not low < high:
        raise ConfigError(f"{where}: expected LOW < HIGH. Received LOW={low}, HIGH={high}")
    if kind == "log" and low <= 0:
        raise ConfigError(f"{where}: a log scale needs LOW > 0. Received LOW={low}")
    return Dimension(key, kind, str(spec), low=low, high=high)


def _check_value(config: Any, key: str, text: str, where: str) -> Any:
    try:
        return check_field(config, key, text, from_strings=True)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from err


def _field_type(config: Any, key: str, where: str) -> Any:
    *sections, name = key.split(".")
    owner = config
    try:
        for section in sections:
            owner = getattr(owner, section)
        return typing.get_type_hints(type(owner))[name]
    except (AttributeError, KeyError):
        check_field(config, key, None)  # raises the config's own unknown-key error, with its hints
        raise ConfigError(f"{where}: unknown config key {key!r}") from None


def _optional_args(tp: Any) -> tuple[Any, ...]:
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    return tuple(a for a in args if a is not type(None))


def _is_number(tp: Any) -> bool:
    return any(a in (int, float) for a in _optional_args(tp))


def _is_int(config: Any, key: str) -> bool:
    args = _optional_args(_field_type(config, key, key))
    return int in args and float not in args


def _is_tuple(tp: Any) -> bool:
    return any(typing.get_origin(a) is tuple for a in _optional_args(tp))
