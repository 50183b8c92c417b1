"""tagformer explain end to end on tiny trained runs, its bad-input errors, and the C/A subjets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tinydata import TINY_OVERRIDES, write_tiny_hls4ml

from tagformer.cli.main import main


def _train(model: str, h5: Path, out: Path, overrides: list[str]) -> Path:
    from tagformer.config import build_config
    from tagformer.train.run import train

    train(build_config(model=model, data=str(h5), overrides=[*overrides, "trainer.max_epochs=1"]), out)
    return out


@pytest.fixture(scope="module")
def tiny_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_hls4ml(tmp_path_factory.mktemp("explain_data") / "tiny.h5")


@pytest.fixture(scope="module")
def transformer_run(tiny_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train("transformer_tiny", tiny_h5, tmp_path_factory.mktemp("explain_runs") / "transformer", TINY_OVERRIDES)


def test_explain_writes_report_json_and_figures(transformer_run: Path, tmp_path: Path, capsys):
    out = tmp_path / "explain"
    fastjet = importlib.util.find_spec("fastjet") is not None
    extra = [] if fastjet else ["--no-subjets"]
    assert main(["explain", str(transformer_run), "--jets", "12", "--out", str(out), "--ig-steps", "8", *extra]) == 0
    printed = capsys.readouterr().out
    assert "explain: attention maps 12/12 jets" in printed and "wrote" in printed
    result = json.loads((out / "explain.json").read_text())
    assert result["jets"] == 12 and result["model"] == "transformer_tiny"
    modules = result["attention"]["modules"]
    assert list(modules) == ["encoder.blocks.0.attn"]
    entry = result["attention"]["sparsity"]["encoder.blocks.0.attn"]
    assert len(entry["entropy"]) == modules["encoder.blocks.0.attn"]["heads"]
    assert 0 < entry["max_weight_uniform_mean"] <= 1
    if fastjet:
        assert 0 <= entry["same_subjet_mean"] <= 1 and 0 <= entry["same_subjet_uniform_mean"] <= 1
    assert set(result["faithfulness"]["curves"]) == {"attribution", "attention", "random"}
    assert len(result["faithfulness"]["curves"]["random"]) == 4
    c = result["attributions"]["completeness"]
    assert c["mean_abs_delta"] < 0.05 * max(1.0, c["mean_abs_gap"])
    report = (out / "report.md").read_text()
    figures = [line.split("(")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    assert len(figures) >= 8
    for name in figures:
        assert (out / name).stat().st_size > 1000, name


def test_a_model_without_attention_still_gets_attributions(tiny_h5: Path, tmp_path: Path, capsys):
    overrides = [o for o in TINY_OVERRIDES if not o.startswith("model.")]
    run = _train("deepsets_tiny", tiny_h5, tmp_path / "deepsets", overrides)
    out = tmp_path / "explain"
    assert main(["explain", str(run), "--jets", "8", "--out", str(out), "--ig-steps", "4", "--no-subjets"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no attention maps (it has no attention layers)" in err
    assert "Traceback" not in err
    result = json.loads((out / "explain.json").read_text())
    assert result["attention"] is None
    assert set(result["faithfulness"]["curves"]) == {"attribution", "random"}
    assert "has no attention layers" in (out / "report.md").read_text()
    assert result["attention_missing"] == "it has no attention layers"


def test_bad_input_gives_one_clear_message(transformer_run: Path, tmp_path: Path, capsys):
    assert main(["explain", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["explain", str(transformer_run), "--jets", "100000", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "fewer than the 100000 asked for" in err and err.count("\n") == 1
    assert main(["explain", str(transformer_run), "--data", str(tmp_path / "none.h5")]) == 2
    assert "none.h5 does not exist" in capsys.readouterr().err
    assert main(["explain", str(transformer_run), "--jets", "0"]) == 2
    assert "--jets must be at least 1" in capsys.readouterr().err


def test_ca_subjets_separate_two_distant_prongs():
    pytest.importorskip("fastjet")
    from tagformer.eval.explain.subjets import subjet_labels

    def p4(pt, eta, phi):
        return [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)]

    jets = np.zeros((1, 6, 4))
    jets[0, :5] = [p4(100, 0.0, 0.0), p4(20, 0.02, 0.01), p4(60, 0.5, 0.5), p4(10, 0.52, 0.49), p4(5, -0.01, 0.0)]
    mask = np.array([[True] * 5 + [False]])
    labels = subjet_labels(jets, mask, n_subjets=2)
    assert labels.tolist() == [[0, 0, 1, 1, 0, -1]]
    one = subjet_labels(jets[:, :1], mask[:, :1], n_subjets=3)
    assert one.tolist() == [[0]]
