"""``tagformer compare`` with regression runs: the regression columns appear (mean ± std over seeds) only when
a run has a regression head; classification-only tables keep their columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagformer.eval.compare import compare_runs, to_csv, to_markdown


def _run(root: Path, preset: str, seed: int, resolution: float | None, accuracy: float | None = 0.8) -> Path:
    run = root / f"{preset}-seed{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("seed: 0\n")
    (run / "summary.json").write_text(json.dumps({"model": preset, "preset": preset, "params": 1000,
                                                  "flops_per_jet": 1e6, "num_particles": 16}))
    metrics: dict = {"split": "test"}
    if accuracy is not None:
        metrics.update(accuracy=accuracy, auc_macro=0.9, rejection={"w": {"0.5": 10.0}},
                       rejection_average={"0.5": 10.0})
    if resolution is not None:
        metrics["regression"] = {"mass": {"summary": {
            "response": 1.0 + seed / 100, "resolution": resolution, "sd_response": 0.9, "sd_resolution": 0.2,
            "jsd": 0.05, "sd_jsd": 0.3}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_regression_columns_average_over_seeds(tmp_path: Path):
    runs = [_run(tmp_path, "multi", s, res) for s, res in ((0, 0.10), (1, 0.14))]
    (row,) = compare_runs(runs)
    assert row["regression_head"] == "mass"
    assert row["mass_resolution"] == pytest.approx(0.12) and row["mass_resolution_std"] == pytest.approx(0.0283, 1e-2)
    assert row["mass_response"] == pytest.approx(1.005) and row["sd_resolution"] == pytest.approx(0.2)
    assert row["sd_resolution_std"] == 0.0 and row["mass_jsd"] == pytest.approx(0.05)
    md = to_markdown([row])
    assert "| mass response | mass resolution | SD resolution | JSD (mass) | JSD (SD) | evaluated on |" in md
    assert "| 0.12 ± 0.028 | 0.2 ± 0 | 0.05 ± 0 | 0.3 ± 0 |" in md
    assert "mass_resolution" in to_csv([row]).splitlines()[0]


def test_classification_only_tables_are_unchanged(tmp_path: Path):
    (row,) = compare_runs([_run(tmp_path, "cls", 0, None)])
    assert not any(k.startswith(("mass_", "sd_", "regression")) for k in row)
    head = to_markdown([row]).splitlines()[0]
    assert head == "| model | N | seeds | params | FLOPs/jet | accuracy | AUC (macro) | R0.5_avg | evaluated on |"


def test_a_regression_only_run_is_compared(tmp_path: Path):
    (row,) = compare_runs([_run(tmp_path, "reg", 0, 0.1, accuracy=None)])
    assert row["accuracy"] is None and row["mass_resolution"] == pytest.approx(0.1)
    mixed = compare_runs([_run(tmp_path / "a", "reg", 0, 0.1, accuracy=None), _run(tmp_path / "b", "cls", 0, None)])
    md = to_markdown(mixed)
    assert md.count("| - | - | - | - | - |") == 1  # the classification run's empty regression cells


def test_runs_with_other_tasks_get_their_own_row_name():
    from tagformer.eval.compare import _name

    base = {"preset": "phat_small", "model_overrides": {}}
    assert _name(base) == _name({**base, "tasks": ["classification"]}) == "phat_small"
    assert _name({**base, "tasks": ["classification", "regression"]}) == "phat_small [classification+regression]"
    assert _name({**base, "tasks": ["regression"]}) == "phat_small [regression]"
