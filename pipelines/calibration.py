"""Temperature scaling (Guo et al. 2017): one number that makes a classifier's confidence honest.

A net trained to low loss is often over-confident, and label smoothing (on by default for
`mnist`) makes it under-confident. Dividing the logits by one temperature `T`, fitted on
the validation split to minimize the negative log-likelihood, changes no prediction (the
arg max stays) and fixes much of the miscalibration: the test set's `ece` and `log_loss`
are reported before (`*_uncalibrated`) and after.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(scale=2.0, size=(2000, 3))
    >>> p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    >>> y = (rng.random((2000, 1)) < p.cumsum(1)).argmax(1)  # labels drawn from softmax(logits): honest at T = 1...
    >>> round(fit_temperature(4 * logits, y), 1)  # ...so logits four times too sharp get T = 4
    4.0
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, log_softmax

__all__ = ["CALIBRATIONS", "TemperatureScaling", "fit_temperature", "with_temperature", "temperature_of"]

CALIBRATIONS = ("none", "temperature")
# log T is searched in [-4, 4]: T from 0.018 to 55, far beyond what any net here needs.
_LOG_T_BOUND = 4.0


@keras.saving.register_keras_serializable(package="pipelines")
class TemperatureScaling(keras.layers.Layer):
    """Divides logits by a fixed `temperature` (from `fit_temperature`); no weights.

    Example:
        >>> float(TemperatureScaling(2.0)(np.array([[4.0, 0.0]], "float32"))[0, 0])
        2.0
    """

    def __init__(self, temperature: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not np.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"expected a positive finite temperature. Received: temperature={temperature}")
        self.temperature = float(temperature)

    def call(self, logits: Any) -> Any:
        return logits / keras.ops.cast(self.temperature, logits.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature}


def _nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    scaled = logits / temperature
    if logits.ndim == 1:  # one logit of the positive class
        return float(-np.mean(np.where(y == 1, log_expit(scaled), log_expit(-scaled))))
    return float(-np.mean(log_softmax(scaled, axis=1)[np.arange(len(y)), y]))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimizes the negative log-likelihood of `y` under `logits / T`.

    Args:
        logits: `(n, k)` class logits, or `(n,)` / `(n, 1)` logits of the positive class.
        y: Integer labels, `(n,)`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    logits = logits[:, 0] if logits.ndim == 2 and logits.shape[1] == 1 else logits
    y = np.asarray(y).astype(np.int64)
    if len(y) == 0 or len(logits) != len(y):
        raise ValueError(f"expected one logit row per label. Received {len(logits)} rows, {len(y)} labels")
    best = minimize_scalar(
        lambda log_t: _nll(logits, y, float(np.exp(log_t))),
        bounds=(-_LOG_T_BOUND, _LOG_T_BOUND),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(best.x))


def with_temperature(model: keras.Model, temperature: float) -> keras.Model:
    """`model` with its logits divided by `temperature`: the same layers, one more at the end."""
    outputs = TemperatureScaling(temperature, name="temperature_scaling")(model.outputs[0])
    return keras.Model(model.inputs, outputs, name=model.name)


def temperature_of(model: keras.Model) -> float | None:
    """The temperature a model divides its logits by, or `None` when it has no such layer."""
    found = [layer.temperature for layer in model.layers if isinstance(layer, TemperatureScaling)]
    return found[-1] if found else None
