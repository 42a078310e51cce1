"""Which cluster a multi-worker run belongs to: parsed from `TF_CONFIG` or from `--workers`.

A cluster is every worker's `host:port`, in the same order on every host, and this
process's place in it. It comes from one of two sources, never both:

- the `workers` and `worker_index` config fields (`pipelines run NAME --workers
  host:port,host:port --worker-index I`), from which the standard `TF_CONFIG` is built;
- the `TF_CONFIG` environment variable that cluster schedulers (Kubernetes TFJob, Vertex
  AI, ...) set: `{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": I}}`,
  optionally with a `"chief"` task.

The chief (the `chief` task when there is one, else worker 0) writes the report and the
model; the other workers write nothing. This module imports no TensorFlow, so bad input
is refused before anything heavy loads.

Example:
    >>> c = cluster_from_workers(("10.0.0.1:2222", "10.0.0.2:2222"), 1)
    >>> (c.num_workers, c.is_chief, c.tf_config()["task"])
    (2, False, {'type': 'worker', 'index': 1})
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError

__all__ = [
    "Cluster",
    "check_workers",
    "cluster_from_workers",
    "cluster_from_tf_config",
    "resolve_cluster",
    "local_worker_addresses",
]

# A DNS name or IPv4 address, or an IPv6 address in brackets, then a port.
_ADDRESS_RE = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?):(\d{1,5})$")
# ps (ParameterServerStrategy) and evaluator (a side-car evaluator) need other training loops.
_TASK_TYPES = ("chief", "worker")


@dataclass(frozen=True)
class Cluster:
    """A multi-worker cluster and this process's task in it.

    Attributes:
        chief: The `chief` task's address, or `None` when worker 0 is the chief.
        workers: The `worker` tasks' addresses, in order.
        task_type: This process's task type, `"chief"` or `"worker"`.
        task_index: This process's index among the tasks of its type.
    """

    chief: str | None
    workers: tuple[str, ...]
    task_type: str
    task_index: int

    @property
    def num_workers(self) -> int:
        """Every training process, the chief task included."""
        return len(self.workers) + (self.chief is not None)

    @property
    def rank(self) -> int:
        """This process's position among all tasks: 0 is the chief (TensorFlow's order)."""
        if self.task_type == "chief":
            return 0
        return self.task_index + (self.chief is not None)

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the report, the model and the checkpoints."""
        return self.rank == 0

    def tf_config(self) -> dict[str, Any]:
        """This task's `TF_CONFIG` as a dict (`json.dumps` it for the environment variable)."""
        cluster: dict[str, list[str]] = {"worker": list(self.workers)}
        if self.chief is not None:
            cluster["chief"] = [self.chief]
        return {"cluster": cluster, "task": {"type": self.task_type, "index": self.task_index}}

    def describe(self) -> dict[str, Any]:
        """What the report records about the cluster."""
        return {
            "num_workers": self.num_workers,
            "rank": self.rank,
            "is_chief": self.is_chief,
            "tf_config": self.tf_config(),
        }


def check_workers(workers: Sequence[str], worker_index: int | None) -> None:
    """Checks the `workers` / `worker_index` config fields (the `--workers` / `--worker-index` flags).

    Raises:
        ConfigError: A malformed or repeated `host:port`, a missing or out-of-range index, or
            an index without workers.

    Example:
        >>> check_workers(("localhost:2222",), 3)
        Traceback (most recent call last):
        ...
        pipelines.errors.ConfigError: worker_index must be in 0..0 (one per entry of workers). Received: worker_index=3
    """
    if not workers:
        if worker_index is not None:
            raise ConfigError(
                f"worker_index needs workers: pass --workers host:port,host:port with --worker-index. "
                f"Received: worker_index={worker_index}, workers=()"
            )
        return
    for address in workers:
        _check_address(address, "workers")
    repeated = sorted({a for a in workers if list(workers).count(a) > 1})
    if repeated:
        raise ConfigError(
            f"workers lists an address twice: {', '.join(repeated)}. Each worker needs its own host:port."
        )
    if worker_index is None:
        raise ConfigError(
            f"workers needs worker_index: which of the {len(workers)} workers this process is "
            "(--worker-index 0 on the first host, 1 on the second, ...)."
        )
    if not 0 <= worker_index < len(workers):
        raise ConfigError(
            f"worker_index must be in 0..{len(workers) - 1} (one per entry of workers). "
            f"Received: worker_index={worker_index}"
        )


def cluster_from_workers(workers: Sequence[str], worker_index: int) -> Cluster:
    """The cluster of `--workers host:port,... --worker-index I`: worker 0 is the chief.

    Raises:
        ConfigError: See `check_workers`.
    """
    check_workers(workers, worker_index)
    return Cluster(chief=None, workers=tuple(workers), task_type="worker", task_index=int(worker_index))


def cluster_from_tf_config(text: str) -> Cluster:
    """Parses a `TF_CONFIG` JSON string.

    Raises:
        ConfigError: Not JSON, not the standard layout, task types other than chief/worker,
            a malformed address, or a task index out of range.

    Example:
        >>> tf_config = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}'
        >>> cluster_from_tf_config(tf_config).is_chief
        True
    """
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}). Received: TF_CONFIG={text[:200]!r}") from e
    layout = 'expected TF_CONFIG={"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": I}}'
    if (
        not isinstance(spec, dict)
        or not isinstance(spec.get("cluster"), dict)
        or not isinstance(spec.get("task"), dict)
    ):
        raise ConfigError(f"{layout}. Received: TF_CONFIG={text[:200]!r}")
    cluster, task = spec["cluster"], spec["task"]
    other = sorted(set(cluster) - set(_TASK_TYPES))
    if other:
        raise ConfigError(
            f"TF_CONFIG names task types {other}; multi-worker runs support only 'worker' tasks and one "
            "optional 'chief' (MultiWorkerMirroredStrategy: no 'ps', no side-car 'evaluator')."
        )
    workers, chiefs = cluster.get("worker", []), cluster.get("chief", [])
    if not isinstance(workers, list) or not isinstance(chiefs, list) or len(chiefs) > 1 or not workers + chiefs:
        raise ConfigError(f"{layout}, with at most one 'chief'. Received: cluster={cluster!r}")
    for address in workers + chiefs:
        _check_address(address, "TF_CONFIG")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in _TASK_TYPES or task_type not in cluster:
        raise ConfigError(
            f"TF_CONFIG task type must be one of the cluster's {sorted(cluster)}. Received: {task_type!r}"
        )
    members = cluster[task_type]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(members):
        raise ConfigError(
            f"TF_CONFIG task index must be in 0..{len(members) - 1} for its {len(members)} {task_type} task(s). "
            f"Received: index={index!r}"
        )
    everyone = workers + chiefs
    if len(set(everyone)) != len(everyone):
        raise ConfigError(f"TF_CONFIG lists an address twice. Received: cluster={cluster!r}")
    return Cluster(chief=chiefs[0] if chiefs else None, workers=tuple(workers), task_type=task_type, task_index=index)


def resolve_cluster(config: Any, environ: Mapping[str, str]) -> Cluster | None:
    """The run's cluster: from `config.workers`, else from `TF_CONFIG`, else `None` (one machine).

    Args:
        config: A run config with `workers`, `worker_index` and `device` fields.
        environ: The environment (`os.environ`), read for `TF_CONFIG`.

    Raises:
        ConfigError: Both sources are set, either is malformed, or `device` names devices
            (`gpu:0,1`): each worker uses all of its local GPUs, or its CPU.
    """
    tf_config = environ.get("TF_CONFIG", "").strip()
    if config.workers and tf_config:
        raise ConfigError(
            "the cluster is given twice: by --workers/workers= and by the TF_CONFIG environment variable. "
            "Pass one: unset TF_CONFIG, or drop --workers and --worker-index."
        )
    if config.workers:
        cluster = cluster_from_workers(config.workers, config.worker_index)
    elif tf_config:
        cluster = cluster_from_tf_config(tf_config)
    else:
        return None
    if ":" in str(config.device):
        raise ConfigError(
            f"a multi-worker run uses every local GPU of each worker (or its CPU): pass --device auto, gpu or cpu. "
            f"Received: device={config.device!r}"
        )
    return cluster


def local_worker_addresses(n: int) -> tuple[str, ...]:
    """`n` free `localhost:port` addresses, for a cluster of processes on one machine (tests, benchmarks).

    All sockets stay bound until every port is known, so the `n` ports differ.

    Example:
        >>> len(set(local_worker_addresses(2)))
        2
    """
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return tuple(f"localhost:{s.getsockname()[1]}" for s in sockets)
    finally:
        for s in sockets:
            s.close()


def _check_address(address: object, source: str) -> None:
    match = _ADDRESS_RE.match(address) if isinstance(address, str) else None
    if not match or not 1 <= int(match.group(1)) <= 65535:
        raise ConfigError(
            f"{source} entries must be host:port with a port in 1..65535, e.g. 10.0.0.1:2222 or node-1:2222. "
            f"Received: {address!r}"
        )
