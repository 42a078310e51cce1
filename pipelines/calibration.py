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

__all__ = [
    "CALIBRATIONS",
    "CALIBRATE_DOC",
    "TemperatureScaling",
    "fit_temperature",
    "with_temperature",
    "temperature_of",
    "unscaled",
    "uncalibrated_metrics",
]

CALIBRATIONS = ("none", "temperature")
CALIBRATE_DOC = (
    "none | temperature: divide the logits by one temperature fitted on the validation split "
    "(the saved model includes it; the report gives ece and log_loss before and after)."
)
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
    """The temperature a model divides its logits by (in a nested model too), or `None`."""
    for layer in reversed(model.layers):
        if isinstance(layer, TemperatureScaling):
            return layer.temperature
        if isinstance(layer, keras.Model) and (inner := temperature_of(layer)) is not None:
            return inner
    return None


def unscaled(proba: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities of the logits before the division by `temperature`.

    `proba` is `(n,)` P(positive) of one logit, or `(n, k)` softmax rows: a softmax's log is
    its logits up to a constant per row, which the softmax ignores.

    Example:
        >>> unscaled(np.array([0.5, 1 / (1 + np.exp(-1.0))]), 2.0).round(4)  # logit 1 was 2 before
        array([0.5   , 0.8808])
    """
    proba = np.asarray(proba, dtype=np.float64)
    with np.errstate(divide="ignore"):
        if proba.ndim == 1:
            z = np.log(proba) - np.log1p(-proba)
            return 1.0 / (1.0 + np.exp(-z * temperature))
        z = np.log(proba) * temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def uncalibrated_metrics(y: np.ndarray, proba: np.ndarray, temperature: float) -> dict[str, float]:
    """`ece` and `log_loss` of a calibrated model's predictions before its temperature, as
    `ece_uncalibrated` and `log_loss_uncalibrated`, with the `temperature` itself."""
    from sklearn.metrics import log_loss

    from pipelines.evaluation.classification import expected_calibration_error

    raw = unscaled(proba, temperature)
    raw = np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw
    return {
        "temperature": float(temperature),
        "ece_uncalibrated": expected_calibration_error(np.asarray(y), raw),
        "log_loss_uncalibrated": float(log_loss(y, raw, labels=range(raw.shape[1]))),
    }
