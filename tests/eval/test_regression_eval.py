"""Regression evaluation: response, resolution, bins, baseline and sculpting on constructed predictions, checked
against numbers worked out by hand; the multi-head prediction pass, figures and printed summary."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from jetfactory import random_jets
from tagformer.cli.evaluate import format_metrics
from tagformer.config import RunConfig
from tagformer.errors import DataError
from tagformer.eval.evaluate import predict_heads, regression_metrics
from tagformer.eval.plots import is_own_png
from tagformer.eval.regression import (
    binned,
    cut_threshold,
    js_divergence,
    mass_histogram,
    per_class,
    regression_report,
    response_stats,
    sculpting,
)
from tagformer.eval.regression_plots import plot_paths, write_regression_plots
from tagformer.models.registry import create_model
from tagformer.tasks import attach_heads, build_tasks, fit_target_stats

CLASSES = ["g", "q", "w", "z", "t"]


def test_response_median_and_resolution_by_hand():
    # responses 0.8, 0.9, 1.0, 1.1, 1.2: median 1.0; q16 at position 0.16 * 4 = 0.64 -> 0.8 + 0.64 * 0.1 = 0.864,
    # q84 at 3.36 -> 1.1 + 0.36 * 0.1 = 1.136; resolution (1.136 - 0.864) / 2 / 1.0 = 0.136
    pred = np.array([90.0, 100.0, 110.0, 120.0, 80.0, 50.0, 70.0, np.nan])
    true = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 0.0, np.nan, 100.0])  # last three are not usable
    s = response_stats(pred, true)
    assert s["n"] == 5 and s["median"] == pytest.approx(1.0)
    assert s["q16"] == pytest.approx(0.864) and s["q84"] == pytest.approx(1.136)
    assert s["resolution"] == pytest.approx(0.136)
    # doubling every prediction doubles the median and leaves the relative resolution unchanged
    twice = response_stats(2 * pred, true)
    assert twice["median"] == pytest.approx(2.0) and twice["resolution"] == pytest.approx(0.136)
    assert response_stats(np.array([]), np.array([]))["median"] is None


def test_per_class_and_binned_by_hand():
    labels = np.array([0, 0, 0, 2, 2])
    true = np.array([10.0, 20.0, 30.0, 80.0, 90.0])
    pred = np.array([12.0, 20.0, 24.0, 80.0, 99.0])  # responses 1.2, 1.0, 0.8 | 1.0, 1.1
    classes = per_class(pred, true, labels, CLASSES)
    assert classes["g"]["median"] == pytest.approx(1.0)
    # g: q16 at 0.32 -> 0.8 + 0.32 * 0.2 = 0.864, q84 at 1.68 -> 1.0 + 0.68 * 0.2 = 1.136
    assert classes["g"]["resolution"] == pytest.approx(0.136)
    # w: median 1.05; q16 at 0.16 -> 1.016, q84 at 0.84 -> 1.084; (1.084 - 1.016) / 2 / 1.05
    assert classes["w"]["median"] == pytest.approx(1.05)
    assert classes["w"]["resolution"] == pytest.approx(0.034 / 1.05)
    assert classes["q"]["n"] == 0 and classes["q"]["median"] is None
    b = binned(pred, true, true, [0.0, 25.0, 90.0])  # [0, 25): 10, 20; [25, 90]: 30, 80, 90 (last edge included)
    assert [x["n"] for x in b["bins"]] == [2, 3]
    assert b["bins"][0]["median"] == pytest.approx(1.1) and b["bins"][1]["median"] == pytest.approx(1.0)


def _toy_probs() -> tuple[np.ndarray, np.ndarray]:
    """4 W jets with D_W = 0.9, 0.7, 0.5, 0.3 and 4 q jets with D_W = 0.8, 0.65, 0.2, 0.1 (p_q = 1 - p_w)."""
    d = np.array([0.9, 0.7, 0.5, 0.3, 0.8, 0.65, 0.2, 0.1])
    probs = np.zeros((8, 5))
    probs[:, 2], probs[:, 1] = d, 1 - d
    return probs, np.array([2, 2, 2, 2, 1, 1, 1, 1])


def test_sculpting_by_hand():
    probs, labels = _toy_probs()
    mass = np.array([80.0, 80.0, 80.0, 80.0, 10.0, 30.0, 50.0, 70.0])
    out = sculpting(probs, labels, CLASSES, {"regressed": mass}, edges=[0.0, 20.0, 40.0, 60.0, 80.0])
    assert list(out["by_signal"]) == ["w"]  # no Z or top jets: those cuts are not defined
    w = out["by_signal"]["w"]
    # the median of the W scores (0.3, 0.5, 0.7, 0.9) is 0.6: two of four W jets pass, two q jets (0.8, 0.65) too
    assert w["threshold"] == pytest.approx(0.6) and w["eps_S"] == 0.5 and w["eps_B"] == 0.5
    m = w["masses"]["regressed"]
    assert m["hist_before"] == [1, 1, 1, 1] and m["hist_after"] == [1, 1, 0, 0]
    assert m["mean_before"] == 40.0 and m["mean_after"] == 20.0
    # JSD of (1/4, 1/4, 1/4, 1/4) and (1/2, 1/2, 0, 0), mixture (3/8, 3/8, 1/8, 1/8):
    # 1/2 [1/2 log2(2/3) + 1/2 log2 2] + 1/2 log2(4/3) = 3/2 - 3/4 log2 3
    assert m["jsd"] == pytest.approx(1.5 - 0.75 * math.log2(3))
    assert js_divergence(np.array([1, 1]), np.array([2, 2])) == 0.0
    assert js_divergence(np.array([1, 0]), np.array([0, 3])) == pytest.approx(1.0)
    assert js_divergence(np.array([0, 0]), np.array([1, 1])) is None
    assert mass_histogram(np.array([-5.0, 500.0, np.nan, 30.0]), [0.0, 20.0, 40.0]).tolist() == [1, 2]
    assert cut_threshold(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), 0.5) == pytest.approx(0.3)


def test_report_with_baseline_and_summary():
    probs, labels = _toy_probs()
    true = np.array([80.0, 80.0, 80.0, 80.0, 10.0, 30.0, 50.0, 70.0])
    pred = true * np.array([1.0, 1.1, 0.9, 1.0, 1.0, 1.0, 1.2, 0.8])
    sd = true * 0.9
    pt = np.array([500.0, 600.0, 700.0, 800.0, 500.0, 600.0, 700.0, 800.0])
    r = regression_report(pred, true, labels, CLASSES, "mass", sdmass=sd, pt=pt, probs=probs,
                          pt_edges=[400.0, 650.0, 900.0])
    assert r["num_jets"] == 8 and r["mae"] == pytest.approx((8 + 8 + 10 + 14) / 8)
    # q responses 1.0, 1.0, 1.2, 0.8 and W responses 1.0, 1.1, 0.9, 1.0: median 1.0 for both
    assert r["regressed"]["per_class"]["q"]["median"] == pytest.approx(1.0)
    # q: q16 at 0.48 -> 0.8 + 0.48 * 0.2 = 0.896, q84 at 2.52 -> 1.0 + 0.52 * 0.2 = 1.104 -> 0.104
    # W: q16 at 0.48 -> 0.9 + 0.48 * 0.1 = 0.948, q84 at 2.52 -> 1.0 + 0.52 * 0.1 = 1.052 -> 0.052
    assert r["regressed"]["per_class"]["q"]["resolution"] == pytest.approx(0.104)
    assert r["regressed"]["per_class"]["w"]["resolution"] == pytest.approx(0.052)
    assert r["summary"]["resolution"] == pytest.approx((0.104 + 0.052) / 2)  # mean over the classes with jets
    assert r["summary"]["response"] == pytest.approx(1.0)
    assert r["baseline"]["name"] == "sdmass" and r["summary"]["sd_response"] == pytest.approx(0.9)
    assert r["summary"]["sd_resolution"] == pytest.approx(0.0)
    assert [b["n"] for b in r["regressed"]["vs_pt"]["bins"]] == [4, 4]
    assert set(r["sculpting"]["by_signal"]["w"]["masses"]) == {"regressed", "sdmass"}
    assert r["summary"]["jsd"] == r["sculpting"]["by_signal"]["w"]["masses"]["regressed"]["jsd"]
    bare = regression_report(pred, true, labels, CLASSES, "mass")
    assert bare["baseline"] is None and bare["sculpting"] is None and "vs_pt" not in bare["regressed"]
    assert bare["summary"]["sd_resolution"] is None and bare["summary"]["jsd"] is None


def _run_parts():
    cfg = RunConfig.model_validate({"data": {"path": "x.h5"}, "tasks": [{"kind": "classification"},
                                                                       {"kind": "regression", "name": "mass"}]})
    tasks = build_tasks(cfg.tasks, num_classes=5)
    torch.manual_seed(0)
    model = attach_heads(create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=8,
                                      num_layers=1), tasks)
    batches = []
    for i in range(3):
        b = random_jets(batch=20, particles=8, classes=5, seed=i)
        mass = 30.0 + 20.0 * b.labels.float() + b.mask.sum(1).float()
        batches.append(b.replace(targets={"mass": mass, "sdmass": 0.9 * mass, "pt": 500 + 10 * mass}))
    fit_target_stats(tasks, {"mass": torch.cat([b.targets["mass"] for b in batches])})
    return cfg, model, batches


def test_multi_head_prediction_and_metrics(tmp_path: Path):
    cfg, model, batches = _run_parts()
    pred = predict_heads(model, batches, "classification", ["mass"], ["mass"], ["sdmass", "pt", "gen_pt"])
    assert pred.probs.shape == (60, 5) and pred.outputs["mass"].shape == (60,)
    assert set(pred.targets) == {"mass", "sdmass", "pt"}  # optional and absent: dropped
    np.testing.assert_allclose(pred.probs.sum(1), 1.0, rtol=1e-5)
    with torch.no_grad():
        direct = torch.cat([model.forward_heads(b)["mass"][:, 0] for b in batches]).numpy()
    np.testing.assert_allclose(pred.outputs["mass"], direct, rtol=1e-4, atol=1e-3)
    reports = regression_metrics(pred, cfg.tasks, CLASSES)
    assert list(reports) == ["mass"]
    r = reports["mass"]
    assert r["baseline"]["class_average"]["median"] == pytest.approx(0.9)
    assert r["sculpting"] is not None and r["regressed"]["vs_pt"] is not None
    written = write_regression_plots("mass", pred.outputs["mass"], pred.targets["mass"], pred.labels, CLASSES, r,
                                     tmp_path, baseline=pred.targets["sdmass"], title="toy")
    assert written == plot_paths(tmp_path, "mass") and all(is_own_png(p) for p in written)
    text = format_metrics({"model": "m", "preset": "p", "num_jets": 60, "split": "test", "regression": reports})
    assert "regression 'mass' (mass)" in text and "soft drop" in text and "sculpting of q+g after the w cut" in text


def test_a_regression_run_on_data_without_its_target_is_a_clear_error():
    _, model, batches = _run_parts()
    bare = [b.replace(targets={"pt": b.targets["pt"]}) for b in batches]
    with pytest.raises(DataError, match="no target 'mass' for the run's regression task; available targets: pt"):
        predict_heads(model, bare, "classification", ["mass"], ["mass"], ["sdmass"])
    with pytest.raises(DataError, match="available targets: none"):
        predict_heads(model, [b.replace(targets=None) for b in batches], None, ["mass"], ["mass"])
