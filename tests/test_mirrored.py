"""MirroredStrategy on two logical CPU devices, standing in for two GPUs.

Logical devices must be configured before TensorFlow initializes, so the run happens in
a fresh subprocess.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from conftest import PYTHON

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import pipelines
    r = pipelines.run("mnist", dataset="digits", device="cpu:0,1", epochs=2, batch_size=64,
                      out=sys.argv[1], verbose=0)
    print(json.dumps({"accuracy": r.metrics["accuracy"], "replicas": r.model.distribute_strategy.num_replicas_in_sync}))
    """
)


@pytest.mark.slow
def test_training_under_mirrored_strategy_on_two_logical_cpus(tmp_path, python_env):
    done = subprocess.run([PYTHON, "-c", SCRIPT, str(tmp_path / "run")], env=python_env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    env = json.loads((tmp_path / "run" / "report.json").read_text())["environment"]
    assert env["strategy"] == "MirroredStrategy" and env["replicas"] == 2
    assert env["devices"] == ["/job:localhost/replica:0/task:0/device:CPU:0",
                              "/job:localhost/replica:0/task:0/device:CPU:1"]
    assert out["accuracy"] > 0.5  # 2 epochs on digits; chance is 0.1
