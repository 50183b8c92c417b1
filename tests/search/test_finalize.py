"""The local stage (``tagformer search --finalize``) on a finished tiny search: the Pareto trials trained longer
from their Pareto YAML, tested, taken through the hardware path; resumed after an interruption; a rerun
retrains nothing; rows without hardware numbers say why."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import yaml
from search_helpers import TINY_SPACE, write_space

from tagformer.cli.main import main
from tagformer.errors import ConfigError, TagformerError
from tagformer.rundir import RunDir
from tagformer.search import run_search
from tagformer.search.finalize import final_config, final_dir, finalize

optuna = pytest.importorskip("optuna", minversion="5.0")  # the search extra

RUN8 = {**TINY_SPACE["run"], "data": {"batch_size": 32, "num_particles": 8}}
FAMILIES = {"deepsets": {"model": "deepsets_tiny",
                         "params": {"phi_dims": [[4], [8, 8]], "rho_dims": [[4], [8]], "pooling": "sum"}}}
EPOCHS = 3
#: Small hardware settings: 6 bits, one epoch of fine-tuning on the tiny file's jets.
HW = {"fpga_bits": 6, "finetune_epochs": 1, "max_train_jets": 200, "max_test_jets": 200}


class Interrupt(L.Callback):
    """Stop a training run with an error after its second epoch (its last checkpoint is written by then)."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("interrupted")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def finalized(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 3-trial search (val_acc against FLOPs), then the first Pareto trial's final run interrupted after two
    epochs, then ``finalize``: resumes it and trains the other Pareto trials."""
    from tagformer.search.report import collect
    from tagformer.search.run import open_existing
    from tagformer.train.run import train

    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    out = tmp_path_factory.mktemp("finalize") / "out"
    space = write_space(out.parent / "space.yaml", constraints=[], run=RUN8, families=FAMILIES)
    paths = run_search(space, tiny_h5, trials=3, out_dir=out, log=lambda s: None)
    first = collect(open_existing(out)).pareto_rows()[0]
    interrupted = final_dir(out, first["trial"])
    with pytest.raises(RuntimeError, match="interrupted"):
        train(final_config(first, EPOCHS), interrupted, extra_callbacks=[Interrupt()])
    assert RunDir(interrupted).last_ckpt.exists() and not RunDir(interrupted).is_finished()
    lines: list[str] = []
    result = finalize(out, epochs=EPOCHS, log=lines.append, **HW)
    return {"out": out, "paths": paths, "result": result, "lines": lines, "interrupted": interrupted}


def test_pareto_trials_are_trained_longer_from_their_pareto_yaml(finalized: dict[str, Any]) -> None:
    rows = finalized["result"]["rows"]
    assert [r["trial"] for r in rows] == finalized["paths"]["pareto"]  # ordered by the first objective
    for row in rows:
        run = RunDir(row["run_dir"])
        assert run.root == final_dir(finalized["out"], row["trial"]) and run.is_finished()
        pareto = yaml.safe_load((finalized["out"] / "pareto" / f"trial-{row['trial']:04d}.yaml").read_text())
        saved = yaml.safe_load(run.config.read_text())
        assert saved["trainer"].pop("max_epochs") == EPOCHS and pareto["trainer"].pop("max_epochs") == 2
        assert saved == pareto  # the Pareto YAML, trained longer
        summary = json.loads(run.summary.read_text())
        assert summary["epochs_completed"] == EPOCHS == row["epochs"]
        assert row["val_acc"] == summary["val"]["val_acc"]


def test_an_interrupted_final_run_is_resumed(finalized: dict[str, Any]) -> None:
    run = RunDir(finalized["interrupted"])
    epochs = [int(r["epoch"]) for r in _rows(run.metrics_csv) if r.get("val_acc")]
    assert epochs == [0, 1, 2]  # epochs 0 and 1 from before the interruption, 2 after: none trained twice
    assert json.loads(run.summary.read_text())["epochs_completed"] == EPOCHS


def test_rows_hold_test_metrics_and_hardware_numbers(finalized: dict[str, Any]) -> None:
    rows = finalized["result"]["rows"]
    for row in rows:
        metrics = json.loads(RunDir(row["run_dir"]).metrics.read_text())
        assert metrics["split"] == "test" and row["test_acc"] == metrics["accuracy"]
        report = json.loads((Path(row["run_dir"]) / "fpga" / "fpga.json").read_text())
        assert report["bits"] == 6 and report["finetune_epochs"] == 1
        assert report["rows"][0]["particles"] == 8
        assert row["fpga_lut"] == report["rows"][0]["luts"] > 0 and row["fpga_latency_ns"] > 0
        assert row["fpga_mismatches"] == 0 and row["fpga_note"] == ""  # the circuit is bit-exact
        assert row["fpga_fixed_acc"] == report["rows"][0]["accuracy_quantised"]
    table = _rows(finalized["result"]["csv"])
    assert [int(r["trial"]) for r in table] == [r["trial"] for r in rows]
    assert {"search_val_acc", "search_flops", "test_acc", "fpga_lut", "fpga_latency_ns", "fpga_note"} <= set(table[0])
    assert "| trial | family | search val_acc | search flops |" in finalized["result"]["table"].read_text()


def test_rerun_retrains_nothing(finalized: dict[str, Any]) -> None:
    rows = finalized["result"]["rows"]
    stamps = {r["trial"]: [(Path(r["run_dir"]) / f).stat().st_mtime_ns for f in ("summary.json", "fpga/fpga.json")]
              for r in rows}
    again = finalize(finalized["out"], epochs=EPOCHS, log=lambda s: None, **HW)
    for r in again["rows"]:
        assert not r["trained_now"]
        assert [(Path(r["run_dir"]) / f).stat().st_mtime_ns for f in ("summary.json", "fpga/fpga.json")] == \
            stamps[r["trial"]]
    assert [r["fpga_lut"] for r in again["rows"]] == [r["fpga_lut"] for r in rows]
    assert [r["test_acc"] for r in again["rows"]] == [r["test_acc"] for r in rows]


def test_other_settings_never_overwrite_a_final_run(finalized: dict[str, Any]) -> None:
    with pytest.raises(TagformerError, match=r"trainer\.max_epochs 3 there, 4 now.*never overwrites"):
        finalize(finalized["out"], epochs=EPOCHS + 1, log=lambda s: None, **HW)


def test_rows_say_why_there_are_no_hardware_numbers(finalized: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import tagformer.search.finalize as fin

    out = finalized["out"]
    without = tuple(m for m in fin.supported_models() if m != "deepsets")
    monkeypatch.setattr(fin, "supported_models", lambda: without)  # as for a model without a hardware variant
    rows = finalize(out, epochs=EPOCHS, log=lambda s: None, **HW)["rows"]
    assert all("model 'deepsets' has no FPGA variant" in r["fpga_note"] and "fpga_lut" not in r for r in rows)
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "da4ml", None)  # the extra is not installed
    monkeypatch.setitem(sys.modules, "da4ml.trace", None)
    rows = finalize(out, epochs=EPOCHS, log=lambda s: None, **HW)["rows"]
    assert all("pip install 'tagformer[fpga]'" in r["fpga_note"] for r in rows)
    assert all(r["test_acc"] is not None for r in rows)
    assert "pip install 'tagformer[fpga]'" in (out / "final" / "final.md").read_text()
    monkeypatch.undo()
    assert main(["search", "--finalize", str(out), "--top", "1", "--epochs", str(EPOCHS), "--no-fpga"]) == 0
    assert "finalized trial(s)" in capsys.readouterr().out
    table = _rows(out / "final" / "final.csv")
    assert len(table) == 1 and table[0]["fpga_note"] == "hardware path not asked for (--no-fpga)"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trials": [99]}, "no trial 99"),
    ({"top": 0}, "--top must be >= 1"),
    ({"top": 1, "trials": [0]}, "give one of them"),
    ({"fpga_bits": 1}, "--fpga-bits must be an integer"),
])
def test_bad_choices_are_config_errors(finalized: dict[str, Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        finalize(finalized["out"], epochs=EPOCHS, log=lambda s: None, **{**HW, **kwargs})


def test_pick_refuses_a_trial_that_was_not_trained(tmp_path: Path, tiny_h5: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(tmp_path / "space.yaml", constraints=["params <= 100"], run=RUN8, families=FAMILIES)
    run_search(space, tiny_h5, trials=1, out_dir=tmp_path / "out", log=lambda s: None)  # 165 parameters
    assert main(["search", "--finalize", str(tmp_path / "out"), "--pick", "0"]) == 2
    assert "trial 0 cannot be finalized: it is not a complete, trained trial (not trained)" in capsys.readouterr().err
