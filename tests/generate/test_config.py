"""Generation settings: validation, fingerprints and the worker-independent shard plan."""

from __future__ import annotations

import pytest

from tagformer.data.generate.config import make_config
from tagformer.data.generate.pythia import PROCESSES, pythia_settings, shard_seeds
from tagformer.data.generate.shard import plan_shards
from tagformer.errors import ConfigError


def test_defaults_are_the_hls4ml_like_recipe(tmp_path):
    cfg = make_config(output=tmp_path / "x.h5")
    assert cfg.classes == ("g", "q", "w", "z", "t")
    assert (cfg.pthat_min, cfg.pthat_max, cfg.jet_r, cfg.n_constituents) == (1000.0, 1200.0, 0.8, 150)
    assert cfg.detector == "parametric"


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"classes": "g,x"}, "unknown class 'x'"),
    ({"jets_per_class": 0}, "jets_per_class must be positive"),
    ({"jets_per_class": -5}, "jets_per_class must be positive"),
    ({"pthat_min": 1200, "pthat_max": 1000}, "empty or inverted"),
    ({"pthat_min": 1000, "pthat_max": 1000}, "empty or inverted"),
    ({"jet_r": -0.1}, "jet_r must be positive"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_settings_raise_one_line_config_error(tmp_path, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        make_config(output=tmp_path / "x.h5", **kwargs)
    assert "\n" not in str(info.value)


def test_fingerprint_ignores_run_only_settings(tmp_path):
    a = make_config(output=tmp_path / "a.h5", workers=1)
    b = make_config(output=tmp_path / "b.h5", workers=2, overwrite=True, command="x")
    c = make_config(output=tmp_path / "a.h5", seed=2)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_shard_plan_depends_on_sizes_not_workers(tmp_path):
    cfg = make_config(output=tmp_path / "x.h5", classes="w,t", jets_per_class=25, shard_size=10, workers=1)
    plan = plan_shards(cfg)
    assert [(s.label, s.index, s.count) for s in plan] == [
        ("w", 0, 10), ("w", 1, 10), ("w", 2, 5), ("t", 0, 10), ("t", 1, 10), ("t", 2, 5)]
    assert plan == plan_shards(cfg.model_copy(update={"workers": 7}))


def test_shard_seeds_are_distinct_and_reproducible():
    seeds = {shard_seeds(1, c, i)[0] for c in "gqwzt" for i in range(20)}
    assert len(seeds) == 100
    assert all(0 < s <= 900_000_001 for s in seeds)
    assert shard_seeds(1, "w", 3)[0] == shard_seeds(1, "w", 3)[0] != shard_seeds(2, "w", 3)[0]


def test_every_class_has_quiet_seeded_settings(tmp_path):
    cfg = make_config(output=tmp_path / "x.h5")
    for label in PROCESSES:
        lines = pythia_settings(cfg, label, 7)
        assert "Print:quiet = on" in lines and "Random:seed = 7" in lines
        assert "PhaseSpace:pTHatMin = 1000.0" in lines
