"""Scaling helpers: exponent fit and one tiny end-to-end measurement."""

from __future__ import annotations

import math

from tagformer.bench.scaling import ScalingConfig, fit_exponent, measure_model, to_markdown


def test_fit_exponent_recovers_power_laws():
    ns = [32, 64, 128, 256, 512, 1024]
    assert math.isclose(fit_exponent(ns, [n**2 * 1e-6 for n in ns], 256), 2.0, rel_tol=1e-9)
    assert math.isclose(fit_exponent(ns, [n * 3e-4 for n in ns], 64), 1.0, rel_tol=1e-9)
    assert math.isnan(fit_exponent(ns, [1.0] * 6, 1024))  # one point only


def test_fit_exponent_skips_failed_points():
    ns = [256, 512, 1024]
    assert math.isclose(fit_exponent(ns, [1.0, float("nan"), 4.0], 256), 1.0, rel_tol=1e-9)


def test_measure_model_end_to_end_tiny():
    config = ScalingConfig(ns=(8, 16), jets_per_call=1, warmup=1, repeats=1, budget_s=0.01, fit_from=8)
    result = measure_model("hept", config)
    assert result.preset == "hept_small" and not result.error
    assert len(result.ms_per_jet) == 2 and all(t > 0 for t in result.ms_per_jet)
    table = to_markdown([result], config.fit_from)
    assert "hept (hept_small)" in table and "N=16" in table
