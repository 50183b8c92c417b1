"""``tagformer train --init-from RUN [--freeze-encoder]`` and ``data.label_fraction`` on a pretraining run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import TINY

from tagformer.cli.main import main
from tagformer.config import build_config
from tagformer.data.datamodule import JetDataModule
from tagformer.rundir import load_weights


def _encoder(state: dict) -> dict:
    return {k: v for k, v in state.items() if k.startswith(("encoder.", "input_norm."))}


def test_linear_probe_keeps_the_pretrained_encoder(mpm_run, tiny_h5, tmp_path, capsys) -> None:
    run = tmp_path / "probe"
    assert main(["train", "--model", "transformer_tiny", "--data", str(tiny_h5), "--run-dir", str(run),
                 "--init-from", str(mpm_run), "--freeze-encoder", *TINY, "model.num_layers=1",
                 "trainer.max_epochs=2"]) == 0
    pre = _encoder(load_weights(mpm_run / "checkpoints" / "best.pt")["state_dict"])
    post = load_weights(run / "checkpoints" / "best.pt")["state_dict"]
    assert pre and all(torch.equal(pre[k], post[k]) for k in pre)  # frozen: bit-identical after training
    summary = json.loads((run / "summary.json").read_text())
    assert summary["init_from"] == str(mpm_run) and summary["freeze_encoder"] is True
    # the fine-tuning run's normaliser.json is the pretraining run's
    assert json.loads((run / "normaliser.json").read_text()) == json.loads((mpm_run / "normaliser.json").read_text())


def test_full_finetune_starts_from_the_pretrained_encoder(mpm_run, tiny_h5, tmp_path) -> None:
    run = tmp_path / "ft"
    assert main(["train", "--model", "transformer_tiny", "--data", str(tiny_h5), "--run-dir", str(run),
                 "--init-from", str(mpm_run), *TINY, "model.num_layers=1", "trainer.max_epochs=1",
                 "optim.lr=1e-6"]) == 0
    pre = _encoder(load_weights(mpm_run / "checkpoints" / "best.pt")["state_dict"])
    post = load_weights(run / "checkpoints" / "best.pt")["state_dict"]
    moved = [k for k in pre if k.startswith("encoder.") and not torch.equal(pre[k], post[k])]
    assert moved  # trained, not frozen
    # and it started from the pretrained weights (a tiny learning rate keeps it next to them), unlike a fresh
    # encoder trained the same way
    fresh = tmp_path / "fresh"
    assert main(["train", "--model", "transformer_tiny", "--data", str(tiny_h5), "--run-dir", str(fresh), *TINY,
                 "model.num_layers=1", "trainer.max_epochs=1", "optim.lr=1e-6"]) == 0
    scratch = load_weights(fresh / "checkpoints" / "best.pt")["state_dict"]
    dist = sum(float((post[k] - pre[k]).abs().sum()) for k in moved)
    dist_scratch = sum(float((scratch[k] - pre[k]).abs().sum()) for k in moved)
    assert dist < 0.01 * dist_scratch


def test_bad_finetune_input_is_one_error_line(mpm_run, tiny_h5, tmp_path, capsys) -> None:
    assert main(["train", "--model", "transformer_tiny", "--data", str(tiny_h5), "--run-dir", str(tmp_path / "a"),
                 "--freeze-encoder", *TINY]) == 2
    assert "needs finetune.init_from" in capsys.readouterr().err
    assert main(["train", "--model", "deepsets_tiny", "--data", str(tiny_h5), "--run-dir", str(tmp_path / "b"),
                 "--init-from", str(mpm_run), *TINY]) == 2
    err = capsys.readouterr().err
    assert "encoder architecture must be the same" in err and "Traceback" not in err
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


@pytest.mark.parametrize("fraction", [0.1, 0.5])
def test_label_fraction_keeps_a_balanced_subset_of_train_only(tiny_h5, fraction) -> None:
    def splits(frac: float) -> tuple[np.ndarray, int, int]:
        cfg = build_config(model="deepsets_tiny", data=str(tiny_h5), overrides=[*TINY, f"data.label_fraction={frac}"])
        dm = JetDataModule(cfg.data)
        dm.setup(None)
        return dm._prepared["train"].labels, len(dm._prepared["val"]), len(dm._prepared["test"])

    all_labels, val_all, test_all = splits(1.0)
    few, val, test = splits(fraction)
    assert (val, test) == (val_all, test_all)  # validation and test untouched
    for c in range(5):
        assert (few == c).sum() == max(1, round(fraction * (all_labels == c).sum()))
