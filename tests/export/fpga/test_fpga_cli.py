"""``tagformer fpga`` end to end on a tiny run, and its user errors (exit 2, one clear line)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from export_helpers import write_hls4ml
from fpga_helpers import build_run

from tagformer.cli.main import main

DEEPSETS = ["model.phi_dims=[8,8]", "model.rho_dims=[8]"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hls4ml(tmp_path_factory.mktemp("data") / "tiny.h5", jets=150, particles=12)


def test_end_to_end_report(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    run = build_run(tmp_path / "run", data, "deepsets_tiny", DEEPSETS)
    out = tmp_path / "fpga"
    code = main(["fpga", str(run), "--bits", "6", "--particles", "4,8", "--out", str(out), "--finetune-epochs", "1"])
    assert code == 0
    report = json.loads((out / "fpga.json").read_text())
    assert [r["particles"] for r in report["rows"]] == [4, 8]
    for row in report["rows"]:
        assert row["emulation_mismatched_jets"] == 0 and row["emulation_max_abs_diff"] == 0.0
        assert row["accuracy_emulated"] == row["accuracy_quantised"]
        assert row["luts"] > 0 and row["latency_ns"] > 0 and row["test_jets"] > 0
        assert len(row["finetune_losses"]) == 1
        assert row["formats"]["input"]["k"] + row["formats"]["input"]["i"] + row["formats"]["input"]["f"] == 6
    table = (out / "fpga.md").read_text()
    assert "| 8 |" in table and "LUT (est.)" in table
    assert "fits 100 ns" in capsys.readouterr().out


def test_project_is_written_per_particle_count(data: Path, tmp_path: Path) -> None:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    run = build_run(tmp_path / "run", data, "deepsets_tiny", DEEPSETS)
    out = tmp_path / "fpga"
    assert main(["fpga", str(run), "--bits", "6", "--particles", "4", "--out", str(out), "--finetune-epochs", "0",
                 "--project"]) == 0
    row = json.loads((out / "fpga.json").read_text())["rows"][0]
    assert Path(row["project"]["hls"]) == out / "project" / "n4" / "hls"
    assert (out / "project" / "n4" / "hls" / "src" / "tagger.hh").is_file()
    assert (out / "project" / "n4" / "verilog" / "src" / "tagger.v").is_file()
    assert "csim_mismatched_jets" not in row and "HLS project" in (out / "fpga.md").read_text()


def test_csim_without_a_compiler_is_a_clear_error(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    run = build_run(tmp_path / "run", data, "deepsets_tiny", DEEPSETS)
    monkeypatch.setenv("CXX", "no-such-compiler-here")
    assert main(["fpga", str(run), "--out", str(tmp_path / "o"), "--csim"]) == 2
    assert "--csim needs a C++ compiler" in capsys.readouterr().err


def test_missing_extra_names_it(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "run", data, "deepsets_tiny", DEEPSETS)
    monkeypatch.setitem(sys.modules, "da4ml", None)
    monkeypatch.setitem(sys.modules, "da4ml.trace", None)
    assert main(["fpga", str(run), "--out", str(tmp_path / "o")]) == 2
    assert "pip install 'tagformer[fpga]'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--bits", "1"], "--bits must be an integer"),
    (["--bits", "40"], "--bits must be an integer"),
    (["--particles", "0"], "--particles must be positive"),
    (["--particles", "a,b"], "--particles must be comma-separated"),
    (["--finetune-epochs", "-1"], "--finetune-epochs"),
])
def test_bad_arguments(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                       message: str) -> None:
    run = build_run(tmp_path / "run", data, "deepsets_tiny", DEEPSETS)
    assert main(["fpga", str(run), "--out", str(tmp_path / "o"), *args]) == 2
    assert message in capsys.readouterr().err


def test_unsupported_model_and_missing_weights(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = build_run(tmp_path / "pn", data, "pointnet_tiny", [])
    assert main(["fpga", str(run), "--out", str(tmp_path / "o")]) == 2
    assert "supported: deepsets, transformer, salt, linformer, phat" in capsys.readouterr().err
    bare = build_run(tmp_path / "bare", data, "deepsets_tiny", DEEPSETS, weights=False)
    assert main(["fpga", str(bare), "--out", str(tmp_path / "o")]) == 2
    assert "best.pt is missing" in capsys.readouterr().err
