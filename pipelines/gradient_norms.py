"""The gradient's L2 norm at every optimizer step, as `grad_norm` (mean) and `grad_norm_max` per epoch.

Exploding gradients show as a `grad_norm_max` that jumps by orders of magnitude, vanishing
ones as a norm that sinks toward zero while the loss stays high. The norm is taken over
all trainable variables together, before clipping (so a clipped run still shows what it
clipped) and before any loss scale (mixed_float16).

On several replicas, each replica's gradient is of its share of the batch: the mean is
then over replicas and steps of those norms (at least the global gradient's norm, by the
triangle inequality), and the maximum is the first replica's.

Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, callbacks=[GradientNorms()])
    >>> sorted(key for key in history.history if key.startswith("grad_norm"))
    ['grad_norm', 'grad_norm_max']
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import keras

__all__ = ["GradientNorms"]


class _Max(keras.metrics.Metric):
    """The largest value seen since the last reset (the first replica's, under tf.distribute)."""

    def __init__(self, name: str = "max", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.value = self.add_variable((), "zeros", aggregation="only_first_replica", name="value")

    def update_state(self, value: Any) -> None:
        self.value.assign(keras.ops.maximum(self.value, keras.ops.cast(value, self.value.dtype)))

    def result(self) -> Any:
        return keras.ops.add(self.value, 0.0)  # a tensor: float() of the variable fails under tf.distribute


class GradientNorms(keras.callbacks.Callback):
    """Adds `<name>` and `<name>_max` of each epoch's optimizer steps to the logs.

    While training, the model's optimizers measure the gradients they are given; the
    measurement is removed when training ends, so the optimizers saved with the model are
    the plain ones.

    Args:
        optimizers: The model's attributes that hold an optimizer, each with the name of
            its log entry. Defaults to `{"optimizer": "grad_norm"}`; a GAN passes its two.
    """

    def __init__(self, optimizers: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._names = dict(optimizers or {"optimizer": "grad_norm"})

    def on_train_begin(self, logs: dict | None = None) -> None:
        strategy = getattr(self.model, "distribute_strategy", None)
        # Keras scales each replica's loss by 1/replicas: its gradient times the replica count
        # is the gradient of its share of the batch.
        replicas = float(getattr(strategy, "num_replicas_in_sync", 1))
        self._metrics: dict[str, tuple[keras.metrics.Mean, _Max]] = {}
        self._optimizers = []
        for attribute, name in self._names.items():
            optimizer = getattr(self.model, attribute)
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                metrics = (keras.metrics.Mean(name=name), _Max(name=f"{name}_max"))
            self._metrics[name] = metrics
            optimizer.apply = _measured(optimizer, metrics, replicas)
            self._optimizers.append(optimizer)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for metrics in self._metrics.values():
            for metric in metrics:
                metric.reset_state()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for name, (mean, peak) in self._metrics.items():
            if logs is not None and float(keras.ops.convert_to_numpy(mean.count)) > 0:
                logs[name] = float(mean.result())
                logs[f"{name}_max"] = float(peak.result())

    def on_train_end(self, logs: dict | None = None) -> None:
        for optimizer in self._optimizers:
            optimizer.__dict__.pop("apply", None)


def _measured(optimizer: keras.optimizers.Optimizer, metrics: tuple[keras.metrics.Metric, ...], replicas: float) -> Any:
    """`optimizer.apply` that first adds the gradients' global norm to `metrics`."""
    apply = type(optimizer).apply.__get__(optimizer)  # the class's method, even if a wrapper is left over
    scale = getattr(optimizer, "dynamic_scale", None)  # a LossScaleOptimizer's current loss scale

    def measured_apply(grads: Any, trainable_variables: Any = None) -> Any:
        present = [keras.ops.cast(g, "float32") for g in grads if g is not None]
        if present:
            norm = replicas * keras.ops.sqrt(sum(keras.ops.sum(keras.ops.square(g)) for g in present))
            if scale is not None:
                norm = norm / keras.ops.cast(scale, "float32")
            for metric in metrics:
                metric.update_state(norm)
        return apply(grads, trainable_variables)

    return measured_apply
