"""keras-pipelines: named, well-evaluated Keras pipelines that run from one call.

Example:
    >>> import pipelines
    >>> "mnist" in pipelines.list_pipelines()
    True
    >>> pipelines.get_config("mnist", epochs=3).epochs
    3

Training (on MNIST; a minute on two cores):

    result = pipelines.run("mnist", epochs=3)
    result.metrics["accuracy"], result.report_dir
"""

from pipelines.errors import (
    ChecksumMismatch,
    ConfigError,
    DatasetUnavailable,
    DataValidationError,
    DeviceUnavailableError,
    ExportError,
    ModelLoadError,
    OutputDirError,
    PipelinesError,
    TrainingDivergedError,
    UnknownPipelineError,
)
from pipelines.predictor import Predictor, load
from pipelines.registry import list_pipelines, register
from pipelines.runner import RunResult, evaluate, get_config, run
from pipelines.tuning.study import TuneResult, tune

__version__ = "0.1.0"

__all__ = [
    "list_pipelines",
    "get_config",
    "run",
    "evaluate",
    "tune",
    "TuneResult",
    "load",
    "Predictor",
    "register",
    "RunResult",
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
    "ExportError",
]
