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
        return self.value


class GradientNorms(keras.callbacks.Callback):
    """Adds `grad_norm` and `grad_norm_max` of each epoch's optimizer steps to the logs.

    While training, the model's optimizer measures the gradients it is given; the
    measurement is removed when training ends, so the optimizer saved with the model is
    the plain one.
    """

    def on_train_begin(self, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        strategy = getattr(self.model, "distribute_strategy", None)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            self._mean, self._max = keras.metrics.Mean(name="grad_norm"), _Max(name="grad_norm_max")
        # Keras scales each replica's loss by 1/replicas: its gradient times the replica count
        # is the gradient of its share of the batch.
        replicas = float(getattr(strategy, "num_replicas_in_sync", 1))
        apply = type(optimizer).apply.__get__(optimizer)  # the class's method, even if a wrapper is left over
        scale = getattr(optimizer, "dynamic_scale", None)  # a LossScaleOptimizer's current loss scale

        def measured_apply(grads: Any, trainable_variables: Any = None) -> Any:
            present = [keras.ops.cast(g, "float32") for g in grads if g is not None]
            if present:
                norm = replicas * keras.ops.sqrt(sum(keras.ops.sum(keras.ops.square(g)) for g in present))
                if scale is not None:
                    norm = norm / keras.ops.cast(scale, "float32")
                self._mean.update_state(norm)
                self._max.update_state(norm)
            return apply(grads, trainable_variables)

        optimizer.apply = measured_apply
        self._optimizer = optimizer

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._mean.reset_state()
        self._max.reset_state()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and int(self._mean.count) > 0:
            logs["grad_norm"] = float(self._mean.result())
            logs["grad_norm_max"] = float(self._max.result())

    def on_train_end(self, logs: dict | None = None) -> None:
        self._optimizer.__dict__.pop("apply", None)
