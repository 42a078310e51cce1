"""Cross-replica reductions: the chief's values broadcast to every worker, and all-reduces by dtype."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf


def _broadcast_fn(strategy: tf.distribute.Strategy) -> Callable[..., list[tf.Tensor]]:
    """A compiled function returning the chief's values of its tensor arguments, on every worker.

    An all-reduce sum to which only global replica 0 (the chief's first device: TensorFlow
    numbers the chief's replicas first) contributes: exact, since x + 0 == x.
    """

    def replica_fn(*values: tf.Tensor) -> list[tf.Tensor]:
        ctx = tf.distribute.get_replica_context()
        is_source = tf.equal(ctx.replica_id_in_sync_group, 0)
        return _all_reduce_by_dtype(
            ctx, tf.distribute.ReduceOp.SUM, [tf.where(is_source, v, tf.zeros_like(v)) for v in values]
        )

    @tf.function
    def broadcast(*values: tf.Tensor) -> list[tf.Tensor]:
        out = strategy.run(replica_fn, args=values)
        return [strategy.experimental_local_results(v)[0] for v in out]

    return broadcast


def _all_reduce_by_dtype(
    ctx: tf.distribute.ReplicaContext, op: tf.distribute.ReduceOp, values: list[tf.Tensor]
) -> list[tf.Tensor]:
    # One all-reduce per dtype: TensorFlow packs a list into one buffer of a single dtype.
    out: list[Any] = [None] * len(values)
    for dtype in sorted({v.dtype for v in values}, key=lambda d: d.name):
        positions = [i for i, v in enumerate(values) if v.dtype == dtype]
        for i, value in zip(positions, ctx.all_reduce(op, [values[i] for i in positions])):
            out[i] = value
    return out


def _assign_from_chief(broadcast: Callable[..., list[tf.Tensor]], variables: list[Any]) -> None:
    values = broadcast(*[tf.convert_to_tensor(v) for v in variables])
    for variable, value in zip(variables, values):
        variable.assign(value)
