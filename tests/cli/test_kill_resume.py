"""A training process killed with SIGKILL mid-epoch resumes from its last checkpoint and loses no epoch."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from tinydata import write_tiny_hls4ml

ARGS = ["data.batch_size=8", "data.num_particles=16", "trainer.progress=false", "trainer.threads=1",
        "model.num_layers=1", "trainer.max_epochs=3", "trainer.checkpoint_every_n_steps=3"]


def _rows(run: Path) -> list[dict[str, str]]:
    if not (run / "metrics.csv").exists():
        return []
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_sigkill_mid_epoch_then_resume(tmp_path: Path):
    data = write_tiny_hls4ml(tmp_path / "tiny.h5")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "tagformer.cli.main", "train", "--model", "transformer_tiny", "--data", str(data),
           "--run-dir", str(run), *ARGS]
    proc = subprocess.Popen([*cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            ckpt = run / "checkpoints" / "last.ckpt"
            if _rows(run) and ckpt.exists():
                step = torch.load(ckpt, weights_only=True)["global_step"]
                if step > 20 and step % 20 != 0:  # a mid-epoch checkpoint of epoch 1 is on disk
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "training finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert not (run / "summary.json").exists()
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(run)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [int(r["step"]) for r in rows] == [20, 40, 60]
    assert killed_at > 20
    assert (run / "summary.json").exists()
