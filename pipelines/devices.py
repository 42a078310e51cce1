"""Device placement: which `tf.distribute` strategy and precision policy a run uses.

`auto` picks MirroredStrategy over all GPUs when there are several, the one GPU when there
is one, and otherwise TensorFlow's default (CPU) strategy. `cpu:0,1` mirrors over logical
CPU devices, which is how tests exercise the multi-device path on machines without GPUs.

Example:
    >>> parse_device("gpu:0,1")
    ('gpu', (0, 1))
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator

import keras
import tensorflow as tf

from pipelines.errors import ConfigError, DeviceUnavailableError

__all__ = ["parse_device", "make_strategy", "precision_policy", "describe_strategy", "enable_memory_growth"]

_DEVICE_RE = re.compile(r"^(auto|cpu|gpu)(?::(\d+(?:,\d+)*))?$")


def parse_device(spec: str) -> tuple[str, tuple[int, ...] | None]:
    """Parses `auto`, `cpu`, `gpu`, `gpu:0,1` or `cpu:0,1`.

    Raises:
        ConfigError: Any other form.
    """
    m = _DEVICE_RE.match(spec.strip().lower()) if isinstance(spec, str) else None
    if not m or (m.group(1) == "auto" and m.group(2)):
        raise ConfigError(f"device must be auto, cpu, gpu, gpu:I,J or cpu:I,J. Received: device={spec!r}")
    ids = tuple(int(i) for i in m.group(2).split(",")) if m.group(2) else None
    if ids is not None and len(set(ids)) != len(ids):
        raise ConfigError(f"device lists an index twice. Received: device={spec!r}")
    return m.group(1), ids


def enable_memory_growth() -> None:
    """Lets TensorFlow allocate GPU memory as needed instead of all at start."""
    for gpu in tf.config.list_physical_devices("GPU"):
        with contextlib.suppress(RuntimeError):  # already initialized: growth is fixed then
            tf.config.experimental.set_memory_growth(gpu, True)


def make_strategy(spec: str) -> tf.distribute.Strategy:
    """Returns the strategy for a device spec (see module docstring).

    Raises:
        ConfigError: A malformed spec.
        DeviceUnavailableError: The spec names devices this machine does not have.
    """
    kind, ids = parse_device(spec)
    enable_memory_growth()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        kind = "gpu" if gpus else "cpu"
    if kind == "cpu" and ids is None:
        return tf.distribute.get_strategy()
    available = gpus if kind == "gpu" else tf.config.list_logical_devices("CPU")
    if not available:
        raise DeviceUnavailableError(
            f"device={spec!r} asks for a GPU but TensorFlow sees none. Install the `gpu` extra "
            "(tensorflow[and-cuda]) on a machine with CUDA, or pass --device cpu."
        )
    names = [d.name for d in available]
    if ids is not None:
        missing = [i for i in ids if i >= len(names)]
        if missing:
            raise DeviceUnavailableError(
                f"device={spec!r} names {kind} {missing}, but only {len(names)} {kind} device(s) exist: {names}"
            )
        names = [names[i] for i in ids]
    if len(names) == 1:
        return tf.distribute.OneDeviceStrategy(names[0])
    return _mirrored_strategy(tuple(names))


@functools.cache
def _mirrored_strategy(names: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    # One strategy per device set for the whole process: every new MirroredStrategy numbers
    # its all-reduces from the same collective keys (group 1, instance 100, ...), so a second
    # one in the process (the next run, a kept model trained on first use) reuses the keys
    # of the first with other tensor shapes and aborts with "Shape mismatch in the collective
    # instance 100" (tensorflow/tensorflow#62790). A shared strategy keeps counting instead.
    return tf.distribute.MirroredStrategy(devices=list(names))


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Sets Keras's global dtype policy for the block and restores the previous one.

    Raises:
        DeviceUnavailableError: `mixed_float16` without a GPU (on CPU it is emulated and slow).
    """
    if name == "mixed_float16" and not tf.config.list_physical_devices("GPU"):
        raise DeviceUnavailableError(
            "precision='mixed_float16' needs a GPU; on CPU use precision='mixed_bfloat16' or 'float32'."
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def describe_strategy(strategy: tf.distribute.Strategy) -> dict[str, object]:
    """What the report records about placement."""
    try:
        devices = list(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy: TensorFlow's own placement, first CPU or GPU
        devices = [d.name for d in (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))[:1]]
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": devices,
        "physical_gpus": len(tf.config.list_physical_devices("GPU")),
    }
