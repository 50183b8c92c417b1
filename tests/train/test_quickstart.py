from __future__ import annotations

from pathlib import Path

import pytest
from tinydata import write_tiny_hls4ml

from tagformer.errors import TagformerError
from tagformer.quickstart import CANDIDATES, QuickstartConfig, pick_models, run_quickstart


def test_default_picks_one_registered_model_per_group():
    from tagformer.models.registry import list_models, list_presets

    picks = pick_models()
    known = set(list_models()) | set(list_presets())
    assert picks and all(p in known for p in picks)
    assert len(picks) <= len(CANDIDATES)
    with pytest.raises(TagformerError, match="unknown model"):
        pick_models(["no_such_model"])


def test_missing_user_dataset_is_an_error(tmp_path: Path):
    with pytest.raises(TagformerError, match="does not exist"):
        run_quickstart(QuickstartConfig(out=tmp_path, data=tmp_path / "none.h5"), say=lambda m: None)


@pytest.mark.slow
def test_quickstart_runs_then_reuses(tmp_path: Path):
    data = write_tiny_hls4ml(tmp_path / "tiny.h5")
    cfg = QuickstartConfig(out=tmp_path / "qs", data=data, num_particles=16, max_epochs=1, max_time_s=60,
                           models=["transformer_tiny", "salt"],
                           extra_overrides=["data.batch_size=32", "trainer.progress=false", "trainer.threads=1"])
    said: list[str] = []
    result = run_quickstart(cfg, say=said.append)
    assert "| transformer_tiny | 16 | 1 |" in result["table"] and "| salt | 16 | 1 |" in result["table"]
    assert (cfg.out / "compare.md").exists() and result["plots"]
    said.clear()
    run_quickstart(cfg, say=said.append)
    assert sum("already trained" in m for m in said) == 2
    assert not any("test accuracy" in m for m in said)  # evaluation reused too


@pytest.mark.parametrize(("summary", "said"), [
    ({"epochs_completed": 7, "stopped_early": False, "wall_time_s": 900.0}, "after 7 of 20 epochs"),
    ({"epochs_completed": 7, "stopped_early": True, "wall_time_s": 90.0}, None),  # early stopping: not a cut
    ({"epochs_completed": 20, "stopped_early": False, "wall_time_s": 90.0}, None),
    ({"epochs_completed": 17, "stopped_early": False, "stopped_by_time": True, "wall_time_s": 907.0},
     "after 17 of 20 epochs"),
    ({"epochs_completed": 7, "stopped_early": True, "stopped_by_time": False, "wall_time_s": 90.0}, None),
])
def test_cut_short_names_a_time_cap_stop_only(tmp_path: Path, summary: dict, said: str | None):
    import json

    from tagformer.quickstart import cut_short
    from tagformer.rundir import RunDir

    paths = RunDir(tmp_path / "run")
    assert cut_short(paths, 20) is None  # not finished: nothing to say
    paths.root.mkdir()
    paths.summary.write_text(json.dumps(summary))
    note = cut_short(paths, 20)
    assert (note is None) if said is None else (said in note and "--minutes" in note)
