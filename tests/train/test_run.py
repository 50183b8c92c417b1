from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from tinydata import TINY_OVERRIDES

from tagformer.config import build_config
from tagformer.errors import OutputError, TagformerError
from tagformer.rundir import load_run
from tagformer.train.run import train


def test_run_directory_holds_everything(trained_run: Path):
    for name in ("config.yaml", "normaliser.json", "dataset.json", "metrics.csv", "summary.json",
                 "checkpoints/last.ckpt", "checkpoints/best.pt"):
        assert (trained_run / name).exists(), name
    assert list((trained_run / "logs").rglob("metrics.csv")), "Lightning CSV log missing"
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["model"] == "transformer" and summary["preset"] == "transformer_tiny"
    assert summary["params"] > 0 and summary["flops_per_jet"] > 0
    assert summary["epochs_completed"] == 2
    assert 0 <= summary["best_epoch"] < 2
    assert 0.0 <= summary["val"]["val_acc"] <= 1.0
    with open(trained_run / "metrics.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1]


def test_checkpoints_load_with_weights_only(trained_run: Path):
    last = torch.load(trained_run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    assert "state_dict" in last and last["epoch"] == 1
    best = torch.load(trained_run / "checkpoints" / "best.pt", weights_only=True, map_location="cpu")
    assert set(best) == {"state_dict", "meta"}


def test_load_run_restores_best_weights(trained_run: Path, tiny_h5: Path):
    run = load_run(trained_run)
    assert not run.model.training
    assert run.info.class_names == ["g", "q", "w", "z", "t"]
    assert run.data_config.path == str(tiny_h5)
    best = torch.load(trained_run / "checkpoints" / "best.pt", weights_only=True)["state_dict"]
    for key, value in run.model.state_dict().items():
        assert torch.equal(value, best[key]), key
    assert run.normaliser_state == json.loads((trained_run / "normaliser.json").read_text())


def test_dataset_json_records_inputs_and_older_files_still_load(tmp_path: Path, trained_run: Path):
    saved = json.loads((trained_run / "dataset.json").read_text())
    assert saved["feature_set"] == "ptetaphi" and saved["ordering"] == "pt"
    assert set(saved["truncation"]) >= {"train", "val"}
    old = tmp_path / "old"
    shutil.copytree(trained_run, old)
    six = {k: saved[k] for k in ("format", "class_names", "num_classes", "in_features", "num_particles",
                                 "feature_names")}
    (old / "dataset.json").write_text(json.dumps(six))
    info = load_run(old).info
    assert (info.feature_set, info.ordering, info.truncation) == ("ptetaphi", "pt", {})
    (old / "dataset.json").write_text(json.dumps({**six, "colour": "red"}))
    with pytest.raises(TagformerError, match="unknown keys: colour"):
        load_run(old)


def test_load_run_errors(tmp_path: Path, trained_run: Path):
    with pytest.raises(TagformerError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(TagformerError, match="not a tagformer run"):
        load_run(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.yaml", "dataset.json", "normaliser.json"):
        (broken / name).write_text((trained_run / name).read_text())
    with pytest.raises(TagformerError, match=r"best\.pt"):
        load_run(broken)


def test_existing_run_dir_needs_resume(trained_run: Path, tiny_h5: Path):
    cfg = build_config(model="transformer_tiny", data=str(tiny_h5), overrides=TINY_OVERRIDES)
    with pytest.raises(OutputError, match="--resume"):
        train(cfg, trained_run)


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(tiny_h5: Path, tmp_path: Path, monkeypatch):
    from tagformer.models.transformer import Transformer

    real_forward = Transformer.forward
    calls = {"n": 0}

    def poisoned(self, batch):
        out = real_forward(self, batch)
        calls["n"] += 1
        return out * float("nan") if self.training and calls["n"] > 3 else out

    monkeypatch.setattr(Transformer, "forward", poisoned)
    cfg = build_config(model="transformer_tiny", data=str(tiny_h5), overrides=[*TINY_OVERRIDES, "trainer.max_epochs=1"])
    with pytest.raises(TagformerError, match=r"at step 3 .*last checkpoint"):
        train(cfg, tmp_path / "run")
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_same_seed_same_run_other_seed_other_run(tiny_h5: Path, tmp_path: Path):
    def run(seed: int, name: str) -> tuple[dict, list[dict]]:
        cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                           overrides=[*TINY_OVERRIDES, "trainer.max_epochs=2", f"seed={seed}"])
        train(cfg, tmp_path / name)
        weights = torch.load(tmp_path / name / "checkpoints" / "best.pt", weights_only=True)["state_dict"]
        with open(tmp_path / name / "metrics.csv") as fh:
            rows = [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in csv.DictReader(fh)]
        return weights, rows

    w1, m1 = run(3, "a")
    w2, m2 = run(3, "b")
    w3, _ = run(4, "c")
    assert m1 == m2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    assert not all(torch.equal(w1[k], w3[k]) for k in w1)


def test_model_carries_the_fitted_normalisation_and_summary_counts_with_bench_flops(trained_run: Path):
    from tagformer.bench.flops import FLOPS_CONVENTION, count_params, model_flops_per_jet

    norm = json.loads((trained_run / "normaliser.json").read_text())
    state = torch.load(trained_run / "checkpoints" / "best.pt", weights_only=True)["state_dict"]
    torch.testing.assert_close(state["input_norm.mean"], torch.tensor(norm["mean"], dtype=torch.float32))
    torch.testing.assert_close(state["input_norm.std"], torch.tensor(norm["std"], dtype=torch.float32))
    assert not torch.equal(state["input_norm.std"], torch.ones_like(state["input_norm.std"]))
    summary = json.loads((trained_run / "summary.json").read_text())
    model = load_run(trained_run).model
    assert summary["flops_convention"] == FLOPS_CONVENTION
    assert summary["params"] == count_params(model)
    assert summary["flops_per_jet"] == pytest.approx(
        model_flops_per_jet(model, in_features=3, num_particles=summary["num_particles"]))
