"""``tagformer evaluate`` on a run with a mass-regression head: metrics.json gains ``regression`` (with the soft-drop
baseline and pT bins read from the file), the figures are written, and data without the target stop the command
with a message naming what the data have.

The run is a classification run trained on a tiny file with targets; loading attaches the regression head the
way a multi-task run's load does (its config lists the regression task, the head carries the target statistics).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml, write_tiny_with_targets

import tagformer.rundir
from tagformer.cli.main import main
from tagformer.config import RunConfig
from tagformer.errors import DataError
from tagformer.eval.evaluate import evaluate_run
from tagformer.eval.plots import is_own_png
from tagformer.eval.regression_plots import plot_paths
from tagformer.tasks import attach_heads, build_tasks, fit_target_stats


@pytest.fixture(scope="module")
def run_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tagformer.config import build_config
    from tagformer.train.run import train

    root = tmp_path_factory.mktemp("evalreg")
    data = write_tiny_with_targets(root / "tiny.h5")
    cfg = build_config(model="transformer_tiny", data=str(data), overrides=[*TINY_OVERRIDES, "trainer.max_epochs=1"])
    train(cfg, root / "run")
    return root / "run", data


@pytest.fixture
def multitask_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load the run as a classification + mass-regression run."""
    real = tagformer.rundir.load_run

    def load(run_dir):
        run = real(run_dir)
        cfg = RunConfig.model_validate({**run.config.to_dict(),
                                        "tasks": [{"kind": "classification"}, {"kind": "regression"}]})
        tasks = build_tasks(cfg.tasks, run.info.num_classes)
        torch.manual_seed(0)
        model = attach_heads(run.model, tasks)
        fit_target_stats(tasks, {"mass": np.array([15.0, 80.0, 170.0])})
        return dataclasses.replace(run, model=model.eval(), config=cfg, data_config=cfg.data)

    monkeypatch.setattr(tagformer.rundir, "load_run", load)


def test_evaluate_writes_regression_metrics_and_figures(run_and_data, multitask_load):
    run, _ = run_and_data
    metrics = evaluate_run(run, plots=True, device="cpu")
    assert isinstance(metrics["accuracy"], float) and metrics["rejection"]  # classification as before
    r = metrics["regression"]["regression"]
    assert r["target"] == "mass" and r["num_jets"] == metrics["num_jets"]
    assert r["baseline"]["name"] == "sdmass"
    # the reco soft-drop mass is 0.8-1.0 x the true mass: median response near 0.9, below 1 for every class
    assert 0.85 < r["summary"]["sd_response"] < 0.95
    assert all(s["median"] < 1.0 for s in r["baseline"]["per_class"].values() if s["n"])
    assert len(r["regressed"]["vs_pt"]["bins"]) == 5 and r["regressed"]["vs_pt"]["edges"][0] >= 500
    assert set(r["sculpting"]["by_signal"]) <= {"w", "z", "t"} and r["sculpting"]["by_signal"]
    assert all(is_own_png(p) for p in plot_paths(run, "regression"))


def test_data_without_the_target_is_a_clear_error(run_and_data, multitask_load, tmp_path, capsys):
    run, _ = run_and_data
    bare = write_tiny_hls4ml(tmp_path / "bare.h5", jets_per_class=10)
    with pytest.raises(DataError, match="target 'mass'"):
        evaluate_run(run, data=str(bare), plots=False, device="cpu")
    assert main(["evaluate", str(run), "--data", str(bare), "--no-plots", "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "target 'mass'" in err and "Traceback" not in err
