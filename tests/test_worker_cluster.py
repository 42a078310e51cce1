"""Tests of pipelines.worker_cluster: TF_CONFIG and --workers parsing, validated before any work."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pipelines.errors import ConfigError
from pipelines.worker_cluster import check_workers, cluster_from_tf_config, cluster_from_workers, resolve_cluster


def _config(workers=(), worker_index=None, device="auto"):
    return SimpleNamespace(workers=workers, worker_index=worker_index, device=device)


def test_workers_flag_builds_the_standard_tf_config_with_worker_0_as_chief():
    cluster = cluster_from_workers(("10.0.0.1:2222", "node-2:2222", "[::1]:2223"), 2)
    assert cluster.tf_config() == {
        "cluster": {"worker": ["10.0.0.1:2222", "node-2:2222", "[::1]:2223"]},
        "task": {"type": "worker", "index": 2},
    }
    assert (cluster.num_workers, cluster.rank, cluster.is_chief) == (3, 2, False)
    assert cluster_from_workers(("a:1", "b:1"), 0).is_chief
    # The TF_CONFIG it builds parses back to the same cluster.
    assert cluster_from_tf_config(json.dumps(cluster.tf_config())) == cluster


def test_a_chief_task_in_tf_config_is_the_chief_and_ranks_first():
    spec = {"cluster": {"chief": ["c:1"], "worker": ["w0:1", "w1:1"]}, "task": {"type": "worker", "index": 0}}
    worker0 = cluster_from_tf_config(json.dumps(spec))
    assert (worker0.num_workers, worker0.rank, worker0.is_chief) == (3, 1, False)
    chief = cluster_from_tf_config(json.dumps({**spec, "task": {"type": "chief", "index": 0}}))
    assert (chief.rank, chief.is_chief) == (0, True)


@pytest.mark.parametrize(
    "workers,index,message",
    [
        (("localhost",), 0, "host:port with a port in 1..65535.*Received: 'localhost'"),
        (("localhost:0",), 0, "Received: 'localhost:0'"),
        (("localhost:70000",), 0, "Received: 'localhost:70000'"),
        (("localhost:http",), 0, "Received: 'localhost:http'"),
        (("a b:22",), 0, "Received: 'a b:22'"),
        (("a:1", "a:1"), 0, "lists an address twice: a:1"),
        (("a:1", "b:1"), 2, r"worker_index must be in 0..1 .*Received: worker_index=2"),
        (("a:1", "b:1"), None, "workers needs worker_index"),
        ((), 1, "worker_index needs workers"),
    ],
)
def test_bad_workers_are_refused_with_the_value(workers, index, message):
    with pytest.raises(ConfigError, match=message):
        check_workers(workers, index)


def test_no_workers_and_no_index_is_a_single_machine():
    check_workers((), None)
    assert resolve_cluster(_config(), {}) is None


@pytest.mark.parametrize(
    "tf_config,message",
    [
        ("{not json", "TF_CONFIG is not valid JSON"),
        ('{"cluster": {"worker": ["a:1"]}}', "expected TF_CONFIG="),
        (
            '{"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}',
            r"task types \['ps'\].*no 'ps'",
        ),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "evaluator", "index": 0}}', "task type must be one of"),
        (
            '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
            r"task index must be in 0..1 .*Received: index=2",
        ),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "Received: index='0'"),
        ('{"cluster": {"worker": ["nohost"]}, "task": {"type": "worker", "index": 0}}', "Received: 'nohost'"),
        (
            '{"cluster": {"chief": ["a:1", "b:1"], "worker": ["c:1"]}, "task": {"type": "chief", "index": 0}}',
            "at most one 'chief'",
        ),
        (
            '{"cluster": {"chief": ["a:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}',
            "lists an address twice",
        ),
    ],
)
def test_bad_tf_config_is_refused(tf_config, message):
    with pytest.raises(ConfigError, match=message):
        resolve_cluster(_config(), {"TF_CONFIG": tf_config})


def test_tf_config_from_the_environment_is_read():
    tf_config = json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})
    cluster = resolve_cluster(_config(), {"TF_CONFIG": tf_config})
    assert cluster.workers == ("a:1", "b:1") and cluster.rank == 1


def test_workers_and_tf_config_together_are_a_conflict():
    tf_config = json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}})
    with pytest.raises(ConfigError, match="the cluster is given twice"):
        resolve_cluster(_config(("a:1",), 0), {"TF_CONFIG": tf_config})


def test_device_lists_are_refused_on_a_cluster():
    with pytest.raises(ConfigError, match="pass --device auto, gpu or cpu. Received: device='gpu:0,1'"):
        resolve_cluster(_config(("a:1",), 0, device="gpu:0,1"), {})
