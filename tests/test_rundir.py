"""The run-directory layout and ``load_run``: new-layout weights load as saved; user errors are one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tagformer import rundir
from tagformer.errors import TagformerError
from tagformer.rundir import RunDir, load_run

FEATURES = ["pt", "deta", "dphi"]


def _write_run(root: Path) -> tuple[Path, torch.nn.Module]:
    """A complete new-layout run directory (untrained tagger with fitted-looking input statistics)."""
    from tagformer.config import build_config, save_config
    from tagformer.models import create_model

    paths = RunDir(root)
    paths.checkpoints.mkdir(parents=True)
    cfg = build_config(model="transformer_tiny", data=str(root / "unused.h5"),
                       overrides=["data.num_particles=8", "model.num_layers=1"])
    save_config(cfg, paths.config)
    paths.dataset.write_text(json.dumps({
        "format": "hls4ml", "class_names": ["g", "q", "w", "z", "t"], "num_classes": 5, "in_features": 3,
        "num_particles": 8, "feature_names": FEATURES, "feature_set": "ptetaphi", "ordering": "pt"}))
    norm = {"feature_set": "ptetaphi", "feature_names": FEATURES, "mean": [50.0, 0.0, 0.0],
            "std": [40.0, 0.1, 0.1], "count": 100}
    paths.normaliser.write_text(json.dumps(norm))
    torch.manual_seed(0)
    model = create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=8, num_layers=1)
    model.input_norm.set_stats([50.0, 0.0, 0.0], [40.0, 0.1, 0.1])
    torch.save({"state_dict": model.state_dict(), "meta": {"epoch": 3}}, paths.best_weights)
    return root, model.eval()


def test_layout_names() -> None:
    paths = RunDir("r")
    assert paths.config == Path("r/config.yaml") and paths.normaliser == Path("r/normaliser.json")
    assert paths.dataset == Path("r/dataset.json") and paths.best_weights == Path("r/checkpoints/best.pt")
    assert paths.last_ckpt == Path("r/checkpoints/last.ckpt") and paths.metrics_csv == Path("r/metrics.csv")
    assert paths.summary == Path("r/summary.json") and paths.metrics == Path("r/metrics.json")
    assert paths.wall_time == Path("r/wall_time.json") and paths.logs == Path("r/logs")
    assert paths.export == Path("r/export") and paths.roc_plot.name == rundir.ROC_PLOT
    for name in (rundir.CONFIG, rundir.NORMALISER, rundir.DATASET, rundir.SUMMARY, rundir.METRICS, rundir.LAST_CKPT,
                 rundir.BEST_WEIGHTS, rundir.METRICS_CSV, rundir.WALL_TIME):
        assert name in rundir.__doc__  # the module docstring documents every file


def test_new_layout_weights_load_as_saved(tmp_path: Path) -> None:
    from tagformer.bench.inputs import synthetic_jets

    run, model = _write_run(tmp_path / "run")
    loaded = load_run(run)
    assert not loaded.legacy and loaded.best == {"epoch": 3} and loaded.summary == {}
    assert loaded.model.input_norm.std.tolist() == pytest.approx([40.0, 0.1, 0.1])
    jets = synthetic_jets(3, 8, 3)
    with torch.no_grad():
        assert torch.equal(loaded.model(jets), model(jets))
    assert loaded.paths.is_run() and not loaded.paths.is_finished() and not loaded.paths.is_evaluated()


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda p: p.best_weights.unlink(), "best.pt is missing"),
        (lambda p: p.dataset.unlink(), "dataset.json is missing"),
        (lambda p: p.normaliser.write_text("{"), "cannot read"),
        (lambda p: p.normaliser.write_text(json.dumps({"mean": [0.0]})), "normaliser.json: normaliser state is"),
        (lambda p: p.best_weights.write_bytes(b"torn"), "cannot load checkpoint"),
        (lambda p: p.config.unlink(), "not a tagformer run directory"),
    ],
)
def test_incomplete_runs_are_one_line_errors(tmp_path: Path, breakage, message: str) -> None:
    run, _ = _write_run(tmp_path / "run")
    breakage(RunDir(run))
    with pytest.raises(TagformerError, match=message) as info:
        load_run(run)
    assert len(str(info.value).splitlines()) == 1


def test_weights_of_another_model_are_one_clear_error(tmp_path: Path) -> None:
    run, _ = _write_run(tmp_path / "run")
    blob = torch.load(RunDir(run).best_weights, weights_only=True)
    blob["state_dict"]["encoder.extra"] = torch.zeros(1)
    torch.save(blob, RunDir(run).best_weights)
    with pytest.raises(TagformerError, match=r"does not match model 'transformer_tiny'.*retrain") as info:
        load_run(run)
    assert "encoder/heads split" not in str(info.value)
    with pytest.raises(TagformerError, match="does not exist"):
        load_run(tmp_path / "missing")
