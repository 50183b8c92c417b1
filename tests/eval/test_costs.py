"""One FLOP and parameter count: a training summary, ``tagformer profile`` and ``tagformer compare`` agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml

from tagformer.bench.config import ProfileConfig
from tagformer.bench.flops import FLOPS_CONVENTION
from tagformer.bench.profile import profile_model
from tagformer.eval.compare import compare_runs

FAST = ProfileConfig(batches=(1,), repeats=1, warmup=0, budget_s=0.01, memory="off", calibrate_size=64, threads=1)


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch transformer_tiny(num_layers=1) run at N = 16, evaluated."""
    from tagformer.config import build_config
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.train.run import train

    root = tmp_path_factory.mktemp("costs")
    data = write_tiny_hls4ml(root / "tiny.h5")
    cfg = build_config(model="transformer_tiny", data=str(data), overrides=[*TINY_OVERRIDES, "trainer.max_epochs=1"])
    train(cfg, root / "run")
    evaluate_run(root / "run", plots=False, device="cpu")
    return root / "run"


def test_summary_profile_and_compare_report_the_same_costs(evaluated_run: Path) -> None:
    summary = json.loads((evaluated_run / "summary.json").read_text())
    assert summary["flops_convention"] == FLOPS_CONVENTION
    assert summary["num_particles"] == 16 and summary["model_overrides"] == {"num_layers": 1}
    profiled = profile_model(summary["preset"], 3, summary["num_particles"], config=FAST,
                             num_classes=len(summary["class_names"]), **summary["model_overrides"])[0]
    warnings: list[str] = []
    (row,) = compare_runs([evaluated_run], warn=warnings.append)
    assert summary["flops_per_jet"] > 0 and not warnings
    assert summary["flops_per_jet"] == profiled["flops_per_jet"] == row["flops_per_jet"]
    assert summary["params"] == profiled["params"] == row["params"]
    assert row["name"] == profiled["preset"] == "transformer_tiny(num_layers=1)"


def test_compare_recounts_a_summary_of_an_older_convention(evaluated_run: Path, tmp_path: Path) -> None:
    import shutil

    run = Path(shutil.copytree(evaluated_run, tmp_path / "old"))
    summary = json.loads((run / "summary.json").read_text())
    want = summary["flops_per_jet"]
    summary.update(flops_per_jet=1.0, flops_convention="2 x MACs, torch.utils.flop_counter, per jet at num_particles")
    (run / "summary.json").write_text(json.dumps(summary))
    warnings: list[str] = []
    (row,) = compare_runs([run], warn=warnings.append)
    assert row["flops_per_jet"] == want
    assert len(warnings) == 1 and "recounted" in warnings[0] and "summary.json: 1.0" in warnings[0]
