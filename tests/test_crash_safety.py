"""Crash safety of checkpoints: training in a subprocess is killed (SIGKILL, which nothing can
catch) at random moments while it checkpoints after every epoch; the last checkpoint must
load, resume, and reach the same final parameters as an uninterrupted run, with no temporary
file left once training has resumed. A SIGTERM to the command ends it cleanly at once.

A few trials of a few seconds each, on NumPy (the crash, not the backend, is under test).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from portconv import train

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kills processes with POSIX signals")

EPOCHS = 60
SCRIPT = """
import sys
from portconv import data, nn, train

checkpoint, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
splits = data.make_synthetic(16, 8, 12, seed=0)
model = nn.Sequential(
    nn.Conv2D(4, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2, strides=2),
    nn.Dense(512, activation="relu"), nn.Dense(10),
)
print("ready", flush=True)
train.fit(
    model, splits, epochs=epochs, lr=0.01, optimizer="adam", batch_size=8, init="xavier",
    seed=0, checkpoint=None if checkpoint == "-" else checkpoint, resume=checkpoint != "-",
    callback=lambda stats: print("epoch", stats["epoch"], flush=True),
)
model.save(out)
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "train_tiny.py"
    path.write_text(SCRIPT)
    return path


def _run(script, checkpoint, out):
    done = subprocess.run(
        [sys.executable, str(script), str(checkpoint), str(EPOCHS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def uninterrupted(script, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "final.npz"
    _run(script, "-", out)
    return dict(np.load(out))


def test_killed_while_checkpointing_then_resumed(script, uninterrupted, tmp_path):
    rng = random.Random(2024)
    killed_mid_write = 0
    for trial in range(3):
        folder = tmp_path / f"trial{trial}"
        folder.mkdir()
        checkpoint = folder / "ck.npz"
        proc = subprocess.Popen(
            [sys.executable, str(script), str(checkpoint), str(EPOCHS), str(folder / "x.npz")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "ready"
            # a random epoch (its checkpoint written), then a random moment of the next one:
            # the kill falls anywhere in training or writing, whatever the machine's speed
            stop = rng.randint(1, EPOCHS - 20)
            for line in proc.stdout:
                if line.split() == ["epoch", str(stop)]:
                    break
            time.sleep(rng.uniform(0.0, 0.05))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
            proc.stdout.close()
        left = sorted(os.listdir(folder))
        assert "x.npz" not in left, "training ended before the kill"
        temporaries = [n for n in left if n != "ck.npz"]
        assert all(n.startswith(".ck.npz.") and n.endswith(".tmp") for n in temporaries), left
        killed_mid_write += bool(temporaries)
        # the last checkpoint is whole: its metadata and arrays load
        assert "ck.npz" in left, "the first epoch's checkpoint was written before the kill"
        info = train.checkpoint_info(checkpoint)
        assert 1 <= info["epoch"] <= EPOCHS
        # resuming reaches what an uninterrupted run reaches, and cleans up
        _run(script, checkpoint, folder / "final.npz")
        resumed = dict(np.load(folder / "final.npz"))
        assert resumed.keys() == uninterrupted.keys()
        for name in resumed:
            np.testing.assert_allclose(
                resumed[name], uninterrupted[name], rtol=1e-6, atol=1e-7, err_msg=name
            )
        assert sorted(os.listdir(folder)) == ["ck.npz", "final.npz"]
    print(f"killed mid-write in {killed_mid_write} of 3 trials")


def test_sigterm_ends_the_command_cleanly(tmp_path):
    checkpoint = tmp_path / "ck.npz"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portconv",
            "train",
            "lenet-modern",
            "--data",
            "synthetic",
            "--epochs",
            "1000",
            "--batch-size",
            "8",
            "--no-progress",
            "--checkpoint",
            str(checkpoint),
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2:"):
                break
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert status == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary file, even mid-write
    assert train.checkpoint_info(checkpoint)["epoch"] >= 2
