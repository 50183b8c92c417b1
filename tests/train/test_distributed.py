"""Several processes train one run on CPU (gloo): Lightning's own DDP launcher (``--devices 2``) and torchrun."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tinydata import write_tiny_hls4ml

from tagformer.errors import ConfigError
from tagformer.train.run import launch_topology

BATCH = 16
ARGS = [f"data.batch_size={BATCH}", "data.num_particles=16", "trainer.progress=false", "trainer.threads=1",
        "trainer.max_epochs=1", "trainer.accelerator=cpu"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("ddp") / "tiny.h5")


def _train_jets(data: Path) -> int:
    from tagformer.data.config import DataConfig
    from tagformer.data.datamodule import JetDataModule

    dm = JetDataModule(DataConfig(path=str(data), num_particles=16, batch_size=BATCH))
    dm.setup("fit")
    return len(dm.train_dataloader().dataset)


def _run(cmd: list[str], run: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["0"], "one row per epoch, written once (rank 0 only)"
    summary = json.loads((run / "summary.json").read_text())
    summary["steps"] = int(rows[0]["step"])
    return summary


def _steps_per_epoch(jets: int, world: int) -> int:
    """Optimiser steps in one epoch when each of ``world`` ranks gets ``jets / world`` of the training jets."""
    return math.ceil(math.ceil(jets / world) / BATCH)


def test_lightning_ddp_with_devices_2(tiny: Path, tmp_path: Path):
    run = tmp_path / "run"
    summary = _run([sys.executable, "-m", "tagformer", "train", "--model", "deepsets_tiny", "--data", str(tiny),
                    "--run-dir", str(run), "--devices", "2", *ARGS], run)
    assert summary["devices"] == 2 and summary["num_nodes"] == 1
    # each rank saw half of the training jets: half the optimiser steps of a one-process epoch
    jets = _train_jets(tiny)
    assert summary["steps"] == _steps_per_epoch(jets, 2) < _steps_per_epoch(jets, 1)


def test_torchrun_two_processes(tiny: Path, tmp_path: Path):
    run = tmp_path / "run"
    summary = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                    "-m", "tagformer", "train", "--model", "deepsets_tiny", "--data", str(tiny),
                    "--run-dir", str(run), *ARGS], run)
    assert summary["devices"] == 2 and summary["num_nodes"] == 1
    jets = _train_jets(tiny)
    assert summary["steps"] == _steps_per_epoch(jets, 2) < _steps_per_epoch(jets, 1)


def test_topology_follows_torchrun(monkeypatch: pytest.MonkeyPatch):
    import torch.distributed as dist

    assert launch_topology(1, None) == (1, 1) and launch_topology(1, 3) == (3, 1)
    monkeypatch.setattr(dist, "is_torchelastic_launched", lambda: True)
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert launch_topology(1, None) == (4, 2) and launch_topology(1, 4) == (4, 2)
    with pytest.raises(ConfigError, match="torchrun started 4 processes per node but --devices is 3"):
        launch_topology(1, 3)
