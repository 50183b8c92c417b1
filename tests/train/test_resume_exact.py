"""A run killed at an epoch boundary and resumed ends with exactly the weights of an uninterrupted run.

The data order of each epoch is a function of (seed, epoch) (and, streaming, of the number of loader
workers), the random generators travel in the checkpoint, and no loader is built before the checkpoint is
restored. Dropout is on so that the generators matter.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from tinydata import TINY_OVERRIDES

from tagformer.config import build_config
from tagformer.train.module import TaggerModule
from tagformer.train.run import train

OVERRIDES = [*TINY_OVERRIDES, "trainer.max_epochs=3", "trainer.patience=10", "model.dropout=0.1"]


def _weights(run: Path, name: str) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / name, weights_only=True)["state_dict"]


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as fh:
        return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in csv.DictReader(fh)]


def _killed_after_epoch(cfg_overrides: list[str], data: Path, run: Path, epoch: int, monkeypatch) -> None:
    """Train until the first step of ``epoch`` (the end-of-epoch checkpoint of ``epoch - 1`` is on disk), as
    a Ctrl+C there would."""
    real = TaggerModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.current_epoch == epoch and batch_idx == 0:
            raise KeyboardInterrupt
        return real(self, batch, batch_idx)

    monkeypatch.setattr(TaggerModule, "training_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(build_config(model="transformer_tiny", data=str(data), overrides=cfg_overrides), run)
    monkeypatch.setattr(TaggerModule, "training_step", real)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == epoch - 1


@pytest.mark.parametrize("loading", [[], ["data.streaming=true", "data.shuffle_buffer=50"],
                                     ["data.streaming=true", "data.shuffle_buffer=50", "data.num_workers=2"]],
                         ids=["in-memory", "streaming", "streaming-2-workers"])
def test_resume_at_an_epoch_boundary_is_exact(tiny_h5: Path, tmp_path: Path, monkeypatch, loading: list[str]):
    overrides = [*OVERRIDES, *loading]
    train(build_config(model="transformer_tiny", data=str(tiny_h5), overrides=overrides), tmp_path / "whole")
    _killed_after_epoch(overrides, tiny_h5, tmp_path / "resumed", 2, monkeypatch)
    train(None, tmp_path / "resumed", resume=True)
    for name in ("last.ckpt", "best.pt"):
        whole, resumed = _weights(tmp_path / "whole", name), _weights(tmp_path / "resumed", name)
        assert whole.keys() == resumed.keys()
        assert all(torch.equal(whole[k], resumed[k]) for k in whole), name
    assert _rows(tmp_path / "whole") == _rows(tmp_path / "resumed")


def test_streaming_follows_the_same_learning_rate_schedule_as_in_memory(tiny_h5: Path, tmp_path: Path):
    """Streaming loaders are sized, so the schedule spans the run (it used to sit at its floor from step 1)."""
    for name, extra in (("mem", []), ("stream", ["data.streaming=true", "data.shuffle_buffer=50"])):
        cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                           overrides=[*TINY_OVERRIDES, "trainer.max_epochs=2", *extra])
        train(cfg, tmp_path / name)
    lrs = {name: [float(r["lr"]) for r in _rows(tmp_path / name)] for name in ("mem", "stream")}
    assert lrs["mem"] == pytest.approx(lrs["stream"])
    assert lrs["stream"][0] > 10 * 1e-3 * 0.01  # well above the floor (min_lr_ratio x lr) after epoch 0
    steps = [int(r["step"]) for r in _rows(tmp_path / "stream")]
    assert steps == [int(r["step"]) for r in _rows(tmp_path / "mem")]


def test_epoch_order_is_a_function_of_seed_and_epoch(tiny_h5: Path):
    from tagformer.data.config import DataConfig
    from tagformer.data.datamodule import JetDataModule

    def order(epoch: int, workers: int, streaming: bool) -> np.ndarray:
        dm = JetDataModule(DataConfig(path=str(tiny_h5), num_particles=16, batch_size=16, streaming=streaming,
                                      shuffle_buffer=40, num_workers=workers))
        dm.setup("fit")
        loader = dm.train_dataloader()
        dm.set_epoch(epoch)
        batches = list(loader)
        assert len(batches) == len(loader) == dm.train_batches_per_epoch()
        return torch.cat([b.features[:, 0, 0] + 1000 * b.labels for b in batches]).numpy()

    for streaming in (False, True):
        first = order(3, 0, streaming)
        assert np.array_equal(first, order(3, 0, streaming))  # a fresh module, straight to epoch 3
        assert not np.array_equal(first, order(4, 0, streaming))
    assert np.array_equal(order(3, 2, False), order(3, 0, False))  # in memory: workers do not matter
    two = order(3, 2, True)
    assert np.array_equal(two, order(3, 2, True))
    # 0 and 2 workers: the same jets each epoch, each once, in another order (documented)
    assert np.array_equal(np.sort(two), np.sort(order(3, 0, True))) and not np.array_equal(two, order(3, 0, True))
