"""Tests of pipelines.config: overrides, string parsing, validation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import pipelines
from pipelines.config import (
    AugmentConfig,
    TrainConfig,
    apply_overrides,
    config_to_dict,
    field_docs,
    param,
    parse_assignment,
)
from pipelines.errors import ConfigError


@dataclass
class ToyConfig(TrainConfig):
    dataset: str = param("a", "Which data.", choices=("a", "b"))
    widths: tuple[int, ...] = param((8, 16), "Widths.")
    limit: int | None = param(None, "Optional limit.", ge=1)
    augment: AugmentConfig = param(doc="Augmentation.", factory=AugmentConfig)


def test_overrides_return_a_new_validated_copy():
    base = ToyConfig()
    new = apply_overrides(base, {"epochs": 3, "augment.zoom": 0.2})
    assert (new.epochs, new.augment.zoom) == (3, 0.2)
    assert (base.epochs, base.augment.zoom) == (10, AugmentConfig().zoom)  # untouched


def test_nested_section_accepts_a_dict():
    new = apply_overrides(ToyConfig(), {"augment": {"rotation": 0.0, "use_augmentation": False}})
    assert new.augment.rotation == 0.0 and new.augment.use_augmentation is False


@pytest.mark.parametrize(
    "key,text,expected",
    [
        ("epochs", "7", 7),
        ("learning_rate", "1e-4", 1e-4),
        ("deterministic", "true", True),
        ("deterministic", "off", False),
        ("widths", "4,8,16", (4, 8, 16)),
        ("limit", "none", None),
        ("limit", "5", 5),
        ("out", "/tmp/x", "/tmp/x"),
        ("augment.rotation", "0.1", 0.1),
    ],
)
def test_strings_are_parsed_by_field_type(key, text, expected):
    assert _get(apply_overrides(ToyConfig(), {key: text}, from_strings=True), key) == expected


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"epochs": -1}, r"epochs must be >= 1\. Received: epochs=-1"),
        ({"epochs": 0}, r"epochs must be >= 1"),
        ({"batch_size": "64"}, r"batch_size must be of type int\. Received: batch_size='64'"),
        ({"batch_size": 3.5}, r"batch_size must be of type int"),
        ({"epochs": True}, r"epochs must be of type int"),
        ({"learning_rate": float("nan")}, r"learning_rate must be of type float"),
        ({"dataset": "c"}, r"dataset must be one of 'a', 'b'\. Received: dataset='c'"),
        ({"epoch": 3}, r"unknown config key 'epoch'.*Did you mean 'epochs'"),
        ({"augment.spin": 1.0}, r"unknown config key 'augment\.spin'"),
        ({"augment": 3}, r"augment is a section"),
        ({"epochs.x": 3}, r"'epochs' has no sub-keys"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be < 1"),
        ({"limit": 0}, r"limit must be >= 1"),
        # Nested sections are validated like top-level fields.
        ({"augment.rotation": 0.9}, r"augment\.rotation must be <= 0\.5\. Received: augment\.rotation=0\.9"),
        ({"augment": {"zoom": 1.0}}, r"augment\.zoom must be < 1"),
        ({"augment.use_augmentation": "yes"}, r"augment\.use_augmentation must be of type bool"),
    ],
)
def test_bad_overrides_raise_config_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(ToyConfig(), overrides)


@pytest.mark.parametrize(
    "key,text,match",
    [
        ("batch_size", "abc", r"batch_size must be of type int\. Received: batch_size='abc'"),
        ("deterministic", "maybe", r"deterministic must be of type bool"),
        ("learning_rate", "inf", r"learning_rate must be of type float"),
        ("widths", "4,x", r"widths must be of type tuple\[int, \.\.\.\]\. Received: widths=.4,x."),
    ],
)
def test_bad_strings_raise_config_error(key, text, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(ToyConfig(), {key: text}, from_strings=True)


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError, match=r"epochs must be >= 1\. Received: epochs=-1"):
        apply_overrides(ToyConfig(), {"epochs": -1})


@pytest.mark.parametrize("text,expected", [("a=1", ("a", "1")), (" a.b = x=y ", ("a.b", "x=y"))])
def test_parse_assignment(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["noequals", "=3", ""])
def test_parse_assignment_rejects_malformed(text):
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignment(text)


def test_every_field_is_documented():
    docs = field_docs(ToyConfig)
    names = [row[0] for row in docs]
    assert "augment.rotation" in names and "epochs" in names
    assert all(row[3] for row in docs), [row[0] for row in docs if not row[3]]


def test_config_to_dict_nests_sections():
    d = config_to_dict(ToyConfig())
    assert d["augment"]["zoom"] == AugmentConfig().zoom and d["widths"] == (8, 16)


def _get(config, dotted):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def test_a_python_list_fills_a_tuple_field_optional_or_not():
    # The README passes class_names=["neg", "pos"]; the field is `tuple[str, ...] | None`.
    config = pipelines.get_config("sentiment", class_names=["neg", "pos"], units=[8, 4])
    assert config.class_names == ("neg", "pos") and config.units == (8, 4)
