"""The package's exception hierarchy.

Every error the package raises on purpose derives from `PipelinesError`, and also from
the builtin whose meaning fits the cause (`ValueError` for a bad value, `LookupError`
for a registry miss, ...), so callers can catch either.
"""

from __future__ import annotations

__all__ = [
    "PipelinesError",
    "ConfigError",
    "UnknownPipelineError",
    "DataValidationError",
    "DatasetUnavailable",
    "ChecksumMismatch",
    "OutputDirError",
    "ModelLoadError",
    "TrainingDivergedError",
    "DeviceUnavailableError",
    "ComparisonError",
    "ClusterError",
    "ExportError",
]


class PipelinesError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PipelinesError, ValueError):
    """A configuration key or value is unknown, ill-typed or out of range."""


class UnknownPipelineError(PipelinesError, LookupError):
    """A pipeline name that is not registered."""

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0]) if self.args else ""


class DataValidationError(PipelinesError, ValueError):
    """User-supplied data has the wrong shape, type, range or content."""


class DatasetUnavailable(PipelinesError, FileNotFoundError):
    """A dataset's files could not be found locally nor downloaded."""


class ChecksumMismatch(PipelinesError, ValueError):
    """A dataset file exists but its content does not match the manifest."""


class OutputDirError(PipelinesError, OSError):
    """The output directory cannot be created or written."""


class ModelLoadError(PipelinesError, ValueError):
    """A saved model cannot be loaded safely."""


class TrainingDivergedError(PipelinesError, RuntimeError):
    """Training produced a non-finite loss.

    Args:
        message: What diverged, when, and the fix.
        history: The per-epoch history up to and including the diverged epoch, so the
            failed run's report can show it. Defaults to an empty dict.
    """

    def __init__(self, message: str, history: dict[str, list[float]] | None = None) -> None:
        super().__init__(message)
        self.history = dict(history or {})


class DeviceUnavailableError(PipelinesError, RuntimeError):
    """The requested device or precision is not available on this machine."""


class ComparisonError(PipelinesError, ValueError):
    """Runs cannot be compared: a run lacks its saved predictions, or the test sets differ."""


class ClusterError(PipelinesError, RuntimeError):
    """A multi-worker run cannot start its worker, or lost a worker while training."""


class ExportError(PipelinesError, RuntimeError):
    """An exported artifact does not give its Keras model's outputs."""
