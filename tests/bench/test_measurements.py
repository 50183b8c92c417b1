"""Timing, memory and operator breakdown helpers (no timed assertions: only counts and orders of size)."""

from __future__ import annotations

import math

import pytest
import torch

from tagformer.bench.inputs import synthetic_jets
from tagformer.bench.memory import peak_rss_delta_mb, peak_rss_subprocess, rss_available
from tagformer.bench.ops import op_breakdown
from tagformer.bench.timing import matmul_flops_per_s, time_calls


def test_time_calls_counts_calls() -> None:
    calls = []
    timing = time_calls(lambda: calls.append(1), warmup=3, repeats=7)
    assert len(timing.times_ms) == 7 and len(calls) == 10
    assert 0 <= timing.median_ms <= timing.p99_ms and timing.total_s >= 0


def test_time_calls_budget_caps_slow_calls() -> None:
    calls = []

    def slow() -> None:
        calls.append(1)
        torch.mm(torch.randn(300, 300), torch.randn(300, 300))

    timing = time_calls(slow, warmup=5, repeats=10_000, budget_s=1e-6, min_repeats=3)
    assert len(timing.times_ms) == 3 and len(calls) == 5  # two warm-up calls measure, three are timed


def test_matmul_calibration_is_positive() -> None:
    assert matmul_flops_per_s(size=128, repeats=2) > 0


@pytest.mark.skipif(not rss_available(), reason="needs Linux /proc/self/clear_refs")
def test_peak_rss_sees_a_large_temporary() -> None:
    def allocate() -> None:
        x = torch.ones(32 * 2**20 // 4)  # 32 MiB, touched
        del x

    assert peak_rss_delta_mb(allocate) >= 24


def test_peak_rss_subprocess_on_a_zoo_model() -> None:
    spec = {"model": "transformer_tiny", "num_classes": 5, "in_features": 3, "particles": 16, "batch": 64,
            "threads": 1, "dtype": "fp32"}
    peak = peak_rss_subprocess(spec, timeout_s=120)
    assert math.isnan(peak) if not rss_available() else peak >= 0
    bad = peak_rss_subprocess({**spec, "model": "no_such_model"}, timeout_s=120)
    assert math.isnan(bad)


def test_op_breakdown_names_matmul() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.GELU(), torch.nn.Linear(64, 5))
    x = synthetic_jets(64, 16).features
    ops = op_breakdown(lambda: model(x), top=5, warmup=1, repeats=2)
    assert ops and sum(o["percent"] for o in ops) <= 100.0 + 1e-6
    assert any("addmm" in o["op"] or "mm" in o["op"] for o in ops)
