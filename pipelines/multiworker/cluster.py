"""Joining and leaving the cluster: the strategy, a non-chief's scratch folder, the final barrier."""

from __future__ import annotations

import tempfile
from pathlib import Path

import tensorflow as tf

from pipelines.errors import ClusterError, DeviceUnavailableError
from pipelines.multiworker.peer_errors import _PEER_ERRORS, _first_line
from pipelines.multiworker.reductions import _broadcast_fn
from pipelines.worker_cluster import Cluster


def make_strategy(cluster: Cluster, device: str = "auto") -> tf.distribute.MultiWorkerMirroredStrategy:
    """Starts this worker's server and joins the cluster; blocks until every worker has joined.

    Each worker mirrors over all its local GPUs (`auto`, `gpu`) or uses its CPU (`cpu`, or
    `auto` without GPUs). Must run before any TensorFlow op in the process.

    Raises:
        DeviceUnavailableError: `device="gpu"` on a worker without GPUs.
        ClusterError: TensorFlow already ran in this process, or the server cannot start
            (e.g. the port is taken).
    """
    if device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    elif device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise DeviceUnavailableError(
            "device='gpu' but this worker has no GPU visible to TensorFlow. Pass --device cpu."
        )
    spec = cluster.tf_config()
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(spec["cluster"]), task_type=cluster.task_type, task_id=cluster.task_index, rpc_layer="grpc"
    )
    address = cluster.chief if cluster.task_type == "chief" else cluster.workers[cluster.task_index]
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except RuntimeError as e:
        raise ClusterError(
            f"cannot join the cluster as {cluster.task_type} {cluster.task_index} ({address}): {e}. A multi-worker "
            "run must be the first thing that uses TensorFlow in its process: start it in a fresh process."
        ) from e
    except tf.errors.OpError as e:
        raise ClusterError(
            f"cannot start this worker's server at {address}: {e.message}. Check that the port is free on this host."
        ) from e


def make_scratch_dir(cluster: Cluster) -> Path:
    """A private temporary folder for a non-chief worker's checkpoint copies (its caller deletes it)."""
    return Path(tempfile.mkdtemp(prefix=f"pipelines-worker{cluster.rank}-"))


def wait_for_all_workers(strategy: tf.distribute.Strategy) -> None:
    """Returns once every worker has called it: the end of a multi-worker run.

    The non-chief workers wait here while the chief evaluates and writes; ending earlier,
    they would stop answering the chief's heartbeats, and TensorFlow would log them as crashed.

    Raises:
        ClusterError: A worker stopped before reaching this point.
    """
    try:
        with strategy.scope():
            _broadcast_fn(strategy)(tf.zeros([1], tf.float32))
    except _PEER_ERRORS as e:
        raise ClusterError(f"a worker stopped before the end of the run: {_first_line(e)}") from e
