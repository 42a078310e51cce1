"""Kill and resume (docs/reliability.md): a SIGKILLed run, started again with the same command
and `--out`, resumes from its backup and ends as the same run uninterrupted would.

The backup restores the weights, the optimizer state and the state of early stopping and
the best checkpoint of the last finished epoch; the image classifiers draw each epoch's
input order, augmentation and dropout from (seed, epoch) (`pipelines.epoch_seeds`), so the
resumed epochs draw what the uninterrupted run drew: the final weights and metrics are equal
bit for bit on CPU (before, max |dw| was 0.35 on digits).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile

import numpy as np
import pytest
from conftest import PYTHON

EPOCHS = 4


@pytest.mark.slow
def test_a_killed_run_resumes_and_ends_as_the_uninterrupted_run(tmp_path, python_env):
    out = tmp_path / "run"
    cmd = [
        PYTHON,
        "-m",
        "pipelines",
        "run",
        "mnist",
        "--epochs",
        str(EPOCHS),
        "--out",
        str(out),
        "--seed",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--set",
        "dataset=digits",
        "--set",
        "batch_size=32",
        "--set",
        "early_stopping_patience=2",
        "--set",
        "deterministic=true",
    ]
    proc = subprocess.Popen(cmd, env=python_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metadata = out / "backup" / "training_metadata.json"
    best = out / "checkpoints" / "best.keras"
    deadline = time.time() + 240
    # Epoch 1 writes its backup, then best.keras: wait for both, so the checks below always run.
    while proc.poll() is None and not (metadata.is_file() and best.is_file()) and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before its first backup: {proc.stderr.read()[-2000:]!r}"
    time.sleep(0.2)  # into the next epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    resumed_at = json.loads(metadata.read_text())["epoch"]
    assert 1 <= resumed_at < EPOCHS and not (out / "report.json").exists() and not (out / "model.keras").exists()
    # A kill during a save may leave a hidden .tmp-* file, never a partial file under its final name.
    with zipfile.ZipFile(best) as archive:
        assert archive.testzip() is None
    assert [p.name for p in (out / "checkpoints").iterdir() if not p.name.startswith(".")] == ["best.keras"]

    again = subprocess.run(cmd, env=python_env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    # Resumed, not restarted: only the epochs after the backup were trained in the second process.
    assert report["status"] == "ok" and len(report["history"]["loss"]) == EPOCHS - resumed_at
    assert report["metrics"]["accuracy"] > 0.9
    assert (out / "model.keras").is_file() and not (out / "backup").exists()
    # The finished run is now protected: the same command would be refused, not overwrite it.
    from pipelines.errors import OutputDirError
    from pipelines.runner import make_run_dir

    with pytest.raises(OutputDirError, match="already holds a finished run"):
        make_run_dir(str(out), "mnist")

    # The same command uninterrupted ends with the same weights and metrics, bit for bit.
    straight = tmp_path / "straight"
    argv = [str(straight) if arg == str(out) else arg for arg in cmd]
    done = subprocess.run(argv, env=python_env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = json.loads((straight / "report.json").read_text())
    for key in ("accuracy", "log_loss", "f1_macro", "brier"):
        assert report["metrics"][key] == expected["metrics"][key], key
    from pipelines.models import load_model

    for a, b in zip(load_model(out / "model.keras").get_weights(), load_model(straight / "model.keras").get_weights()):
        np.testing.assert_array_equal(a, b)


def test_resume_restores_the_exact_training_state(tmp_path, monkeypatch):
    """Interrupted after epoch 1 and resumed with fresh objects (as a new process would), a run
    that reshuffles, augments and drops out, with early stopping, ends with the uninterrupted
    run's exact weights: its randomness is drawn from (seed, epoch) (`EpochSeeds`), and the
    backup holds early stopping's state."""
    import keras

    from pipelines.config import AugmentConfig
    from pipelines.epoch_seeds import EpochSeeds
    from pipelines.inputs.images import make_image_dataset
    from pipelines.training import AtomicBackupAndRestore

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(96, 8, 8), dtype=np.uint8)
    y = (x[:, :4].mean(axis=(1, 2)) > x[:, 4:].mean(axis=(1, 2))).astype("int32")

    def train(backup, extra=(), epochs=4):
        keras.utils.set_random_seed(1)
        seeds = EpochSeeds(1)
        augment = AugmentConfig(use_augmentation=True, rotation=0.05, translation=0.1, zoom=0.1)
        ds = make_image_dataset(x, y, batch_size=16, training=True, augment=augment, seed=1, epoch_seeds=seeds)
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(2),
            ]
        )
        model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        stop = keras.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
        callbacks = [seeds, stop, AtomicBackupAndRestore(str(backup), delete_checkpoint=False, keep=[stop]), *extra]
        history = model.fit(ds, epochs=epochs, verbose=0, callbacks=callbacks, shuffle=False)
        return model, history.history

    reference, _ = train(tmp_path / "reference")

    class Killed(keras.callbacks.Callback):  # the process dies right after the epoch-1 backup
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt("planted Ctrl-C")

    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt, match="planted Ctrl-C"):
        train(backup, extra=[Killed()])
    metadata = json.loads((backup / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1 and metadata["callbacks"][0]["best_weights"] == [0, 4]
    assert sorted(os.listdir(backup)) == ["epoch-1.state.npz", "epoch-1.weights.h5", "training_metadata.json"]

    resumed, history = train(backup)
    assert len(history["loss"]) == 3  # epochs 2 to 4 only
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)

    # The control: with the seed generators left where a new process starts them (only the
    # input order drawn from the epoch), the resumed run ends elsewhere.
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "control", extra=[Killed()])
    monkeypatch.setattr(EpochSeeds, "on_epoch_begin", lambda self, epoch, logs=None: self.epoch.assign(epoch))
    control, _ = train(tmp_path / "control")
    assert max(np.abs(a - b).max() for a, b in zip(reference.get_weights(), control.get_weights())) > 0
