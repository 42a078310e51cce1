"""Defaults that depend on the data.

A pipeline's config defaults are measured on its canonical data (the MNIST family for the
image classifiers). For other data a pipeline may register defaults of its own, measured
there (`register(..., data_defaults=...)`: `data_defaults(config, data) -> {key: value}`).
They apply to every field the caller did not set: an explicit value always wins, a whole
section given (`augment=AugmentConfig(...)`) keeps all of its fields.

`pipelines.get_config("mnist", dataset="cifar10")`, `pipelines.run("mnist", dataset="cifar10")`
and `pipelines config mnist --set dataset=cifar10` resolve the same config; a config
instance passed to `run` is used exactly as it is.

Example:
    >>> import pipelines
    >>> config = pipelines.get_config("mnist", dataset="cifar10", epochs=2)
    >>> config.augment.flip, config.epochs  # flips for photos; the epochs given stay
    (True, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.config import apply_overrides, check_fields

__all__ = ["resolve_config", "given"]


def resolve_config(task: Any, overrides: Mapping[str, Any], *, from_strings: bool = False, data: Any = None) -> Any:
    """`task`'s default config with its data's defaults and then `overrides` applied, validated.

    Args:
        task: A `registry.Task`.
        overrides: The caller's settings (strings with `from_strings`, as the CLI gives them).
        from_strings: Parse string values against the field types.
        data: The data passed in memory (`run(name, data=...)`), which the data defaults
            read instead of the configured dataset; None when the data come from files.

    Raises:
        ConfigError: An unknown key or a bad value (before any data is read, when the
            settings alone are wrong).
    """
    config = apply_overrides(task.config_cls(), overrides, from_strings=from_strings, validate=False)
    check_fields(config)  # the data defaults read fields such as `dataset`: typed and in range first
    defaults = {} if task.data_defaults is None else task.data_defaults(config, data)
    chosen = {key: value for key, value in defaults.items() if not given(key, overrides)}
    if not chosen:
        return apply_overrides(config, {})
    # The data's defaults first, then the caller's settings over them, validated together.
    base = apply_overrides(task.config_cls(), chosen, validate=False)
    return apply_overrides(base, overrides, from_strings=from_strings)


def given(key: str, overrides: Mapping[str, Any]) -> bool:
    """Whether the dotted `key` is set by `overrides`: itself, or its section as a whole.

    Example:
        >>> given("augment.flip", {"augment": {"zoom": 0.1}}), given("augment.flip", {"augment.flip": False})
        (False, True)
    """
    if key in overrides:
        return True
    head, _, rest = key.partition(".")
    if not rest or head not in overrides:
        return False
    section = overrides[head]
    return given(rest, section) if isinstance(section, Mapping) else True
