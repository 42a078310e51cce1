"""The compiled training step: loss over the global batch, gradients summed across replicas."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from pipelines.multiworker.reductions import _all_reduce_by_dtype


def make_train_step(
    model: keras.Model, strategy: tf.distribute.Strategy, batch_size: int, *, jit_compile: bool = False
) -> Callable[[Any, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """The compiled training step of the loop: `train_steps(iterator, n)` runs `n` steps.

    Args:
        model: Built and compiled under `strategy.scope()` (uses `model.loss`, `model.optimizer`).
        strategy: The strategy whose replicas run the step.
        batch_size: The global batch size (the loss is averaged over it).
        jit_compile: XLA-compile the forward and backward pass (not the gradient all-reduce:
            XLA on CPU cannot compile collective ops). Defaults to `False`.

    Returns:
        A `tf.function` taking a distributed iterator and a step count and returning the sum
        of the steps' global mean losses and the number of correct top-1 predictions.

    Example (the default strategy stands in for a cluster's):
        >>> import numpy as np
        >>> strategy = tf.distribute.get_strategy()
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> x, y = np.zeros((64, 4), "float32"), np.zeros(64, "int32")
        >>> dist_ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
        >>> train_steps = make_train_step(model, strategy, 16)
        >>> loss_sum, correct = train_steps(iter(dist_ds), tf.constant(4))
        >>> int(correct)  # Dense starts at zero bias: every logit ties, and class 0 wins the tie
        64
    """
    optimizer = model.optimizer

    def gradients(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, list[tf.Tensor], tf.Tensor]:
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            # Summed over this replica's examples, divided by the global batch: the
            # optimizer's cross-replica sum of gradients is then the global mean's gradient.
            loss = tf.nn.compute_average_loss(_per_example_loss(model.loss, y, y_pred), global_batch_size=batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)  # mixed_float16's loss scale; the identity otherwise
        return loss, tape.gradient(scaled, model.trainable_variables), _count_correct(y, y_pred)

    if jit_compile:
        gradients = tf.function(gradients, jit_compile=True)

    # Keras 3 updates BatchNormalization's moving statistics on each replica from its own
    # batch, so the workers' statistics drift apart (measured: only bn*/moving_* differed after
    # one epoch). Averaging them after every step keeps the workers identical; as the update is
    # linear, it equals Keras 2's MEAN aggregation of the update.
    averaged = [v for v in model.non_trainable_variables if v.dtype.startswith("float")]

    def replica_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        loss, grads, correct = gradients(x, y)
        # Outside the XLA cluster: the optimizer all-reduces the gradients here.
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        ctx = tf.distribute.get_replica_context()
        values = []
        for variable in averaged:
            # Placed on the variable's device: the all-reduce takes its destination from the
            # tensor's device, which a bare read inside the function leaves empty.
            with tf.device(variable.value.device):
                values.append(tf.identity(variable.value))
        return loss, correct, _all_reduce_by_dtype(ctx, tf.distribute.ReduceOp.MEAN, values)

    @tf.function
    def train_steps(iterator: Any, n: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        # Several steps per call, as steps_per_execution does for fit(): less Python per step.
        for _ in tf.range(n):
            loss, right, means = strategy.run(replica_step, args=next(iterator))
            # Assigned here, in cross-replica context, which writes every local copy (a
            # replica-context write needs an aggregation these variables do not have).
            for variable, mean in zip(averaged, means):
                variable.assign(strategy.experimental_local_results(mean)[0])
            loss_sum += strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
            correct += strategy.reduce(tf.distribute.ReduceOp.SUM, right, axis=None)
        return loss_sum, correct

    return train_steps


def _per_example_loss(loss: keras.losses.Loss, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    # Loss.call is the unreduced loss; __call__ would average over this replica's batch only.
    dtype = getattr(loss, "dtype", None) or "float32"
    return loss.call(tf.cast(y_true, dtype), tf.cast(y_pred, dtype))


def _count_correct(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    # Integer labels, or one-hot (label-smoothed) rows: the top class either way.
    labels = tf.argmax(y_true, axis=-1) if y_true.shape.rank == y_pred.shape.rank else tf.cast(y_true, tf.int64)
    hits = tf.equal(tf.reshape(labels, [-1]), tf.argmax(y_pred, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.float32))
