"""``tagformer train --task ...``: regression and multi-task runs end to end, and their bad input."""

from __future__ import annotations

import json

import pytest
import torch
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml, write_tiny_with_targets

from tagformer.cli.main import main
from tagformer.rundir import load_run

TINY = [o for o in TINY_OVERRIDES if not o.startswith("model.")]  # deepsets has no layer count


@pytest.fixture(scope="module")
def targets_h5(tmp_path_factory: pytest.TempPathFactory):
    return write_tiny_with_targets(tmp_path_factory.mktemp("tasks") / "tiny_targets.h5")


def test_multitask_run_trains_both_heads_and_loads_back(targets_h5, tmp_path, capsys):
    run = tmp_path / "mt"
    assert main(["train", "--model", "deepsets_tiny", "--data", str(targets_h5), "--run-dir", str(run),
                 "--task", "classification,regression", *TINY, "trainer.max_epochs=2"]) == 0
    assert "(classification, regression)" in capsys.readouterr().out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tasks"] == ["classification", "regression"]
    stats = summary["target_stats"]["regression"]
    assert 15 < stats["mean"] < 175 and stats["std"] > 10  # GeV: the file's masses are 15-190
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train_classification_loss", "train_regression_loss", "val_regression_mae"} <= set(header)
    loaded = load_run(run)
    assert set(loaded.model.heads) == {"classification", "regression"}
    head = loaded.model.heads["regression"]
    assert torch.isclose(head.target_mean.float().reshape(()), torch.tensor(stats["mean"], dtype=torch.float32))


def test_regression_only_run(targets_h5, tmp_path):
    run = tmp_path / "reg"
    assert main(["train", "--model", "deepsets_tiny", "--data", str(targets_h5), "--run-dir", str(run),
                 "--task", "regression", *TINY, "trainer.max_epochs=1"]) == 0
    assert json.loads((run / "summary.json").read_text())["tasks"] == ["regression"]
    assert list(load_run(run).model.heads) == ["regression"]


def test_regression_on_a_file_without_targets_is_one_clear_error(tmp_path, capsys):
    bare = write_tiny_hls4ml(tmp_path / "bare.h5", jets_per_class=10)
    run = tmp_path / "none"
    assert main(["train", "--model", "deepsets_tiny", "--data", str(bare), "--run-dir", str(run),
                 "--task", "regression", *TINY]) == 2
    err = capsys.readouterr().err
    assert "mass" in err and "available targets" in err and "Traceback" not in err
    assert not run.exists() or not any(run.iterdir())  # nothing written


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "segmentation"], "--task 'segmentation'"),
    (["--task", "regression", "trainer.monitor=val_acc"], "trainer.monitor=val_acc needs a single classification"),
    (["--task", "regression", "tasks=[{kind: regression, target: nope}]"], "available targets"),
])
def test_bad_task_settings(targets_h5, tmp_path, capsys, args, message):
    assert main(["train", "--model", "deepsets_tiny", "--data", str(targets_h5), "--run-dir", str(tmp_path / "r"),
                 *args, *TINY]) == 2
    assert message in capsys.readouterr().err


def test_loss_weights_reach_the_total(targets_h5, tmp_path):
    """A run whose regression weight is 0 trains the classifier exactly like a classification-only run."""
    common = ["--model", "deepsets_tiny", "--data", str(targets_h5), *TINY, "trainer.max_epochs=1"]
    assert main(["train", *common, "--run-dir", str(tmp_path / "c")]) == 0
    assert main(["train", *common, "--run-dir", str(tmp_path / "w0"),
                 "tasks=[{kind: classification}, {kind: regression, weight: 0.0}]"]) == 0
    a = load_run(tmp_path / "c").model.state_dict()
    b = load_run(tmp_path / "w0").model.state_dict()
    shared = [k for k in a if k.startswith(("encoder.", "heads.classification."))]
    assert shared and all(torch.allclose(a[k], b[k], atol=1e-6) for k in shared)


def test_summary_tells_a_time_cap_from_early_stopping(targets_h5, tmp_path):
    common = ["--model", "deepsets_tiny", "--data", str(targets_h5), *TINY]
    assert main(["train", *common, "--run-dir", str(tmp_path / "t"), "trainer.max_epochs=500",
                 "trainer.max_time_s=2", "trainer.patience=500"]) == 0
    timed = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert timed["stopped_by_time"] is True and timed["stopped_early"] is False and timed["epochs_completed"] < 500
    assert main(["train", *common, "--run-dir", str(tmp_path / "e"), "trainer.max_epochs=500", "trainer.patience=1",
                 "optim.lr=1e-9"]) == 0  # nothing improves: early stopping after patience
    early = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert early["stopped_early"] is True and early["stopped_by_time"] is False
