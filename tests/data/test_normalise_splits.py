"""Normalisation (fitted on real particles, JSON round trip) and deterministic splits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tagformer.data.normalise import Normaliser
from tagformer.data.splits import jet_split, plan_splits
from tagformer.errors import ConfigError, DataError


def test_normaliser_ignores_padding_and_round_trips():
    rng = np.random.default_rng(0)
    feats = rng.normal(3.0, 2.0, (50, 10, 2)).astype(np.float32)
    mask = rng.random((50, 10)) < 0.6
    feats[~mask] = 1e6  # garbage in padded slots must not affect the fit
    norm = Normaliser.fit(feats, mask, "x", ["a", "b"])
    np.testing.assert_allclose(norm.mean, feats[mask].mean(0), rtol=1e-6)
    out = norm.apply(feats, mask)
    np.testing.assert_allclose(out[mask].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(out[mask].std(0), 1, atol=1e-4)
    assert (out[~mask] == 0).all()
    again = Normaliser.from_state(json.loads(json.dumps(norm.state_dict())))
    np.testing.assert_array_equal(again.apply(feats, mask), out)
    t = again.apply_torch(torch.from_numpy(feats), torch.from_numpy(mask))
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-5, atol=1e-5)


def test_normaliser_constant_feature_and_bad_state():
    feats = np.ones((4, 3, 1), np.float32)
    norm = Normaliser.fit(feats, np.ones((4, 3), bool), "x", ["c"])
    assert norm.std[0] == 1.0 and np.isfinite(norm.apply(feats, np.ones((4, 3), bool))).all()
    with pytest.raises(DataError, match="malformed"):
        Normaliser.from_state({"feature_set": "x", "feature_names": ["a"], "mean": [0, 1], "std": [1]})
    with pytest.raises(DataError, match="fitted for feature set"):
        norm.check_compatible("ptetaphi", ["pt", "deta", "dphi"])


def test_hash_split_fractions():
    ids = jet_split(np.arange(20000), {"val": 0.1, "test": 0.1}, seed=0)
    frac = np.bincount(ids, minlength=3) / len(ids)
    assert abs(frac[1] - 0.1) < 0.01 and abs(frac[2] - 0.1) < 0.01
    np.testing.assert_array_equal(ids, jet_split(np.arange(20000), {"val": 0.1, "test": 0.1}, seed=0))
    assert not np.array_equal(ids, jet_split(np.arange(20000), {"val": 0.1, "test": 0.1}, seed=1))


def test_published_splits_respected(tmp_path, writers):
    for split in ("train_100M", "val_5M", "test_20M"):
        (tmp_path / split).mkdir()
        writers.jetclass(str(tmp_path / split / "TTBar_000.root"), n=3)
    plan = plan_splits(str(tmp_path), None, None, 0.1, 0.1)
    assert plan.published and plan.fractions == {}
    assert [len(plan.files[s]) for s in ("train", "val", "test")] == [1, 1, 1]
    assert "val_5M" in plan.files["val"][0]


def test_published_train_val_only_carves_test(tmp_path, writers):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        writers.hls4ml(str(tmp_path / split / "a.h5"), n=3)
    plan = plan_splits(str(tmp_path), None, None, 0.1, 0.15)
    assert plan.published and plan.fractions == {"test": 0.15}


def test_explicit_paths_and_bad_fractions(tmp_path, writers):
    writers.hls4ml(str(tmp_path / "a.h5"))
    writers.hls4ml(str(tmp_path / "b.h5"))
    plan = plan_splits(str(tmp_path / "a.h5"), str(tmp_path / "b.h5"), None, 0.1, 0.1)
    assert plan.fractions == {"test": 0.1} and not plan.published
    with pytest.raises(ConfigError, match="val_fraction"):
        plan_splits(str(tmp_path / "a.h5"), None, None, 0.6, 0.5)


@pytest.mark.parametrize(("value", "needle"), [(3e38, r"reaches 3e\+38"), (np.inf, "is NaN or infinite for 1 of"),
                                               (np.nan, "is NaN or infinite for 1 of")])
def test_features_training_cannot_handle_are_refused(value: float, needle: str):
    feats = np.random.default_rng(0).normal(size=(20, 4, 2)).astype(np.float32)
    feats[3, 1, 1] = value
    with pytest.raises(DataError, match=f"feature 'b' {needle}"):
        Normaliser.fit(feats, np.ones((20, 4), bool), "x", ["a", "b"])
    feats[3, 1, 1] = 0.0
    assert np.isfinite(Normaliser.fit(feats, np.ones((20, 4), bool), "x", ["a", "b"]).std).all()


def test_state_with_non_finite_statistics_is_malformed():
    with pytest.raises(DataError, match="must be finite"):
        Normaliser.from_state({"feature_set": "x", "feature_names": ["a"], "mean": [float("nan")], "std": [1.0]})
    with pytest.raises(DataError, match="malformed"):
        Normaliser.from_state(["not", "a", "dict"])


def test_robust_normalisation_is_median_over_the_5_95_range_of_real_particles():
    values = np.arange(1, 101, dtype=np.float64)  # 1..100 on real particles
    features = np.zeros((2, 60, 1), np.float32)
    features.reshape(-1)[:100] = values
    features[1, 40:, 0] = 1e6  # padded slots: never seen by the fit
    mask = np.zeros((2, 60), bool)
    mask.reshape(-1)[:100] = True
    norm = Normaliser.fit(features, mask, "x", ["x"], method="robust")
    p5, median, p95 = np.percentile(values, [5, 50, 95])  # numpy's linear interpolation: 5.95, 50.5, 95.05
    assert (p5, median, p95) == (5.95, 50.5, 95.05)
    assert norm.mean[0] == median and np.isclose(norm.std[0], p95 - p5)
    state = norm.state_dict()
    assert state["method"] == "robust" and Normaliser.from_state(state).method == "robust"
    std = Normaliser.fit(features, mask, "x", ["x"])
    assert std.method == "standard" and std.mean[0] == 50.5 and np.isclose(std.std[0], values.std())


def test_robust_normalisation_reaches_the_data_module(tmp_path, writers):
    from tagformer.config import build_config
    from tagformer.data.datamodule import JetDataModule

    data = tmp_path / "t.h5"
    writers.hls4ml(data, n=200, seed=0)
    states = {}
    for method in ("standard", "robust"):
        cfg = build_config(model="deepsets_tiny", data=str(data), overrides=[f"data.normalisation={method}"])
        dm = JetDataModule(cfg.data)
        dm.setup("fit")
        states[method] = dm.normaliser_state()
        train = dm._prepared["train"]
        real = train.features[train.mask].astype(np.float64)
        if method == "robust":
            assert np.allclose(states[method]["mean"], np.median(real, axis=0))
    assert states["standard"]["mean"] != states["robust"]["mean"]
