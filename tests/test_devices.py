"""Tests of pipelines.devices on this CPU-only machine (the 2-device path is in test_mirrored)."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from pipelines import devices
from pipelines.errors import ConfigError, DeviceUnavailableError


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("auto", ("auto", None)),
        ("cpu", ("cpu", None)),
        ("GPU", ("gpu", None)),
        ("gpu:0,1", ("gpu", (0, 1))),
        ("cpu:1", ("cpu", (1,))),
    ],
)
def test_parse_device(spec, expected):
    assert devices.parse_device(spec) == expected


@pytest.mark.parametrize("spec", ["tpu", "gpu:", "gpu:a", "auto:0", "gpu:0,0", "", "cpu 0"])
def test_parse_device_rejects_malformed(spec):
    with pytest.raises(ConfigError, match="device must be|index twice"):
        devices.parse_device(spec)


def test_auto_and_cpu_use_the_default_strategy_without_gpus():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    for spec in ("auto", "cpu"):
        strategy = devices.make_strategy(spec)
        assert strategy.num_replicas_in_sync == 1
        assert devices.describe_strategy(strategy)["devices"]


def test_gpu_request_without_gpu_is_a_clear_error():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceUnavailableError, match="asks for a GPU but TensorFlow sees none"):
        devices.make_strategy("gpu")


def test_device_index_out_of_range():
    with pytest.raises(DeviceUnavailableError, match="only"):
        devices.make_strategy("cpu:0,7")


def test_precision_policy_is_restored_after_the_block():
    before = keras.config.dtype_policy().name
    with devices.precision_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before


def test_mixed_float16_needs_a_gpu():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceUnavailableError, match="mixed_bfloat16"):
        with devices.precision_policy("mixed_float16"):
            pass
