"""TensorFlow's errors in a cluster run: which ones mean a peer was lost, and the line that says what happened."""

from __future__ import annotations

import re

import tensorflow as tf

# What TensorFlow raises in a collective op when a peer died, restarted or is unreachable.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
)


def _first_line(error: BaseException) -> str:
    """The line of a TensorFlow error that says what happened (its first line is often "Graph execution error:")."""
    lines = [line.strip() for line in (getattr(error, "message", None) or str(error)).splitlines() if line.strip()]
    for line in lines:
        if re.search(r"unhealthy|aborted|connect|preempt|heartbeat|restart|not match|not found", line, re.IGNORECASE):
            return f"{type(error).__name__}: {line}"
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
