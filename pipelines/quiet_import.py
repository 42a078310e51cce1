"""Loads TensorFlow for the CLI without its native start-up lines on the terminal.

TensorFlow's shared libraries log from C++ while they load (oneDNN, CUDA probing, CPU
flags; about six lines, twice), before absl logging starts, so `TF_CPP_MIN_LOG_LEVEL` does
not reach them; nor the "failed call to cuInit" error a machine without a GPU gets when
devices are first listed. The CLI promises one line on a refused input, so it loads
TensorFlow and lists the devices with the process's stderr (file descriptor 2, where C++
writes) sent to a temporary file, then passes on every line that is not such chatter:
Python warnings and real errors still reach the user.

Example:
    >>> is_chatter("I0000 00:00:1796651625.697786   31574 port.cc:153] oneDNN custom operations are on.")
    True
    >>> is_chatter("UserWarning: something worth reading")
    False
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["load_tensorflow", "is_chatter"]

# glog INFO/WARNING lines ("I0000 00:00:..." / "W0000 ..."), absl's notice that logging is not
# set up yet, the continuation line of the CPU-flags notice, and the cuInit error of GPU-less machines.
_CHATTER = re.compile(
    r"^(?:[IW]\d{4} \d\d:\d\d:\S+\s+\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: "
    r"|E\d{4} \d\d:\d\d:\S+\s+\d+ cuda_\w+\.cc:\d+\] failed call to cuInit)"
)


def is_chatter(line: str) -> bool:
    """Whether `line` is TensorFlow's native start-up chatter rather than a message for the user."""
    return bool(_CHATTER.match(line))


def load_tensorflow(*, list_devices: bool = False) -> None:
    """Imports TensorFlow and Keras (and, with `list_devices`, probes the devices) quietly.

    Does nothing when TensorFlow is already imported: its chatter, if any, is past.
    """
    if "tensorflow" in sys.modules:
        return
    with _native_stderr_filtered():
        import keras  # noqa: F401  (loads TensorFlow's libraries too)
        import tensorflow as tf

        if list_devices:
            tf.config.list_physical_devices()


@contextlib.contextmanager
def _native_stderr_filtered() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines() if not is_chatter(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
