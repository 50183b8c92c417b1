"""``tagformer pretrain`` end to end: run directory, --init-from compatibility, resume, bad input."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from helpers import TINY

from tagformer.cli.main import main
from tagformer.models.registry import create_model
from tagformer.rundir import load_weights
from tagformer.train.init_from import load_pretrained_encoder


def _cli(*args: str) -> int:
    return main(["pretrain", *args])


def _rows(run) -> list[dict]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_mpm_end_to_end_on_a_one_class_file(one_class_h5, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert _cli("--model", "transformer_tiny", "--method", "mpm", "--data", str(one_class_h5), "--out", str(run),
                *TINY, "trainer.max_epochs=2", "model.num_layers=1") == 0
    assert "mpm on transformer_tiny" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pretrain_method"] == "mpm" and summary["epochs_completed"] == 2 and summary["jets_seen"] > 0
    assert summary["collapsed"] is False and summary["emb_rank"] > 1
    rows = _rows(run)
    assert [r["epoch"] for r in rows] == ["0", "1"] and all(float(r["val_emb_std"]) > 0 for r in rows)
    tagger = create_model("transformer_tiny", num_classes=5, in_features=7, num_particles=16, num_layers=1)
    load_pretrained_encoder(tagger, run, model="transformer_tiny", overrides={"num_layers": 1})
    assert torch.equal(tagger.input_norm.mean, torch.tensor(json.loads((run / "normaliser.json").read_text())["mean"],
                                                            dtype=torch.float32))


def test_resume_matches_an_uninterrupted_run(tiny_h5, tmp_path) -> None:
    common = ["--model", "transformer_tiny", "--data", str(tiny_h5), *TINY, "model.num_layers=1", "trainer.patience=9",
              "pretrain.mpm.mask_fraction=0.3",
              "schedule.name=constant", "schedule.warmup_fraction=0"]  # the schedule must not depend on max_epochs
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert _cli(*common, "--out", str(straight), "trainer.max_epochs=3") == 0
    assert _cli(*common, "--out", str(split), "trainer.max_epochs=1") == 0
    assert [r["epoch"] for r in _rows(split)] == ["0"]
    assert _cli("--out", str(split), "--resume", "trainer.max_epochs=3") == 0
    assert [r["epoch"] for r in _rows(split)] == ["0", "1", "2"]
    a = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and any(k.startswith("method.mask_token") for k in a)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert load_weights(split / "checkpoints" / "best.pt")["state_dict"].keys() == \
        load_weights(straight / "checkpoints" / "best.pt")["state_dict"].keys()


def test_bad_input_is_one_error_line(tiny_h5, tmp_path, capsys, mpm_run) -> None:
    assert _cli("--model", "transformer_tiny", "--method", "byol", "--data", str(tiny_h5), "--out",
                str(tmp_path / "a")) == 2
    assert "unknown pretraining method 'byol'" in capsys.readouterr().err
    assert _cli("--model", "deepsets_tiny", "--method", "mpm", "--data", str(tiny_h5), "--out", str(tmp_path / "b"),
                *TINY) == 2
    assert "depends on its own particle only" in capsys.readouterr().err
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
    assert _cli("--model", "transformer_tiny", "--data", str(tiny_h5), "--out", str(tmp_path / "c"),
                "pretrain.mpm.mask_fraction=1.5") == 2
    assert "pretrain.mpm.mask_fraction" in capsys.readouterr().err
    assert _cli("--out", str(mpm_run), "--resume", "pretrain.mpm.mask_fraction=0.2") == 2
    assert "only trainer.max_epochs" in capsys.readouterr().err
    assert _cli("--model", "transformer_tiny", "--data", str(tiny_h5), "--out", str(mpm_run)) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--model"])
def test_model_is_required_for_a_new_run(tiny_h5, tmp_path, capsys, flag) -> None:
    assert _cli("--data", str(tiny_h5), "--out", str(tmp_path / "x")) == 2
    assert flag in capsys.readouterr().err


@pytest.mark.parametrize("method", ["jjepa", "rino"])
def test_jjepa_and_rino_end_to_end(method, tiny_h5, tmp_path) -> None:
    run = tmp_path / method
    assert _cli("--model", "transformer_tiny", "--method", method, "--data", str(tiny_h5), "--out", str(run), *TINY,
                "trainer.max_epochs=1", "model.num_layers=1", "pretrain.rino.out_dim=32") == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["pretrain_method"] == method and summary["steps"] > 0
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    teacher = "method.target." if method == "jjepa" else "method.teacher."
    assert any(k.startswith(teacher) for k in ckpt)
    tagger = create_model("transformer_tiny", num_classes=2, in_features=7, num_particles=16, num_layers=1)
    assert load_pretrained_encoder(tagger, run).method == method
