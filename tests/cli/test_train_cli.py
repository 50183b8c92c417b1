"""End to end through the command line on tiny data: train, interrupt, resume, evaluate, compare."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml

from tagformer.cli.main import main


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("clidata") / "tiny.h5")


def _epochs(run: Path) -> list[int]:
    with open(run / "metrics.csv") as fh:
        return [int(r["epoch"]) for r in csv.DictReader(fh)]


def test_train_interrupt_resume_evaluate_compare(tiny: Path, tmp_path: Path, monkeypatch, capsys):
    from tagformer.train.module import TaggerModule

    run = tmp_path / "run"
    args = ["train", "--model", "transformer_tiny", "--data", str(tiny), "--run-dir", str(run),
            *TINY_OVERRIDES, "trainer.max_epochs=2"]
    real_step = TaggerModule.training_step

    def interrupted(self, batch, batch_idx):
        if self.global_step == 7:  # epoch 1, after the step-6 checkpoint
            raise KeyboardInterrupt
        return real_step(self, batch, batch_idx)

    monkeypatch.setattr(TaggerModule, "training_step", interrupted)
    assert main(args) == 130
    assert "add --resume to the same command" in capsys.readouterr().err
    assert _epochs(run) == [0]
    assert not (run / "summary.json").exists()
    monkeypatch.setattr(TaggerModule, "training_step", real_step)

    assert main([*args, "--resume"]) == 0
    assert _epochs(run) == [0, 1]
    with open(run / "metrics.csv") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [5, 10]  # no optimiser step lost or repeated
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_completed"] == 2
    assert "best epoch" in capsys.readouterr().out

    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "average R@0.8 over w+z+t" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "test" and 0 < metrics["num_jets"] < 200
    assert (run / "roc.png").stat().st_size > 0 and (run / "confusion.png").stat().st_size > 0

    assert main(["evaluate", str(run), "--data", str(tiny), "--no-plots"]) == 0
    assert json.loads((run / "metrics.json").read_text())["num_jets"] == 200
    capsys.readouterr()

    assert main(["compare", str(tmp_path), "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "| transformer_tiny(num_layers=1) | 16 | 1 |" in out
    assert (tmp_path / "c.csv").read_text().startswith("name,")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "{tmp}/no_run"], "does not exist"),
        (["compare", "{tmp}/no_run"], "does not exist"),
        (["train", "--model", "transformer_tiny", "--data", "{tmp}/missing.h5", "--run-dir", "{tmp}/r"],
         "missing.h5"),
        (["train", "--model", "transformer_tiny", "--data", "{tiny}", "--run-dir", "{tmp}/r", "trainer.max_epoch=1"],
         "unknown config key 'trainer.max_epoch'"),
        (["train", "--model", "transformer_tiny", "--data", "{tiny}", "--run-dir", "{tmp}/r", "model.width=3"],
         "width"),
        (["train", "--model", "nope", "--data", "{tiny}"], "unknown model"),
        (["train", "--model", "transformer_tiny", "--data", "{tiny}", "--run-dir", "{tmp}/r",
          "data.feature_set=part_full"], "part_full"),
        (["train", "--model", "transformer_tiny", "--data", "{tiny}", "--run-dir", "{tmp}/r",
          "data.feature_set=bogus"], "bogus"),
        (["train", "--resume", "--run-dir", "{tmp}/never"], "--model"),
        (["evaluate", "{tmp}", "--split", "test"], "not a tagformer run"),
    ],
)
def test_user_errors_are_one_line(argv, needle, tiny: Path, tmp_path: Path, capsys):
    argv = [a.format(tmp=tmp_path, tiny=tiny) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and needle in err, err
    assert "Traceback" not in err


def test_train_resolves_the_model_name_once(tiny: Path, tmp_path: Path, monkeypatch, capsys):
    import tagformer.config as config

    calls: list[str] = []
    real = config.resolve_model
    monkeypatch.setattr(config, "resolve_model", lambda name: calls.append(name) or real(name))
    args = ["train", "--model", "transformer_tiny", "--data", str(tiny), *TINY_OVERRIDES, "trainer.max_epochs=1"]
    monkeypatch.chdir(tmp_path)  # the default run directory runs/<preset>-seed<seed> goes here
    assert main(args) == 0
    assert calls == ["transformer_tiny"]
    summary = json.loads((tmp_path / "runs" / "transformer_tiny-seed0" / "summary.json").read_text())
    assert (summary["model"], summary["preset"]) == ("transformer", "transformer_tiny")
    assert "transformer_tiny best epoch 0" in capsys.readouterr().out
