"""Bit-exactness: the da4ml circuit's integer outputs equal the torch quantised model's, jet by jet."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from fpga_helpers import F, random_jets, reallike_jets, small_tagger, variant_and_plan

from tagformer.export.fpga.cost import estimate
from tagformer.export.fpga.emulate import emulate, torch_reference, trace_circuit
from tagformer.export.fpga.fixed import to_integers

pytest.importorskip("da4ml", reason="the FPGA tests need the fpga extra: pip install 'tagformer[fpga]'")

CASES = {
    "deepsets": (dict(phi_dims=(8, 8), rho_dims=(8,)), 8),
    "transformer": (dict(dim=8, num_heads=2, ffn_dim=8, num_layers=1, pooling="max"), 4),
    "salt": (dict(num_particles=8, dim=8, num_heads=2, ffn_dim=8, partitions=4, norm="none",
                  partition_rule="position"), 8),
    "linformer": (dict(num_particles=8, dim=8, num_heads=2, ffn_dim=8, num_layers=1, k=4, norm="none"), 8),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def traced(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    name = request.param
    overrides, n = CASES[name]
    hw, plan = variant_and_plan(small_tagger(name, **overrides), name, n, bits=8)
    return name, n, hw, plan, trace_circuit(hw, plan, n, F)


def test_emulation_is_bit_exact_on_2000_jets(traced) -> None:  # type: ignore[no-untyped-def]
    _, n, hw, plan, circuit = traced
    for x, m in (random_jets(1000, n, seed=3), reallike_jets(1000, n, seed=4)):
        emulated = emulate(circuit, x, m, plan)
        reference = torch_reference(hw, plan, x, m)
        spec = plan.acts["logits"]
        assert np.array_equal(to_integers(emulated, spec), to_integers(reference, spec))
        assert np.abs(emulated - reference).max() == 0.0
        assert len(np.unique(reference.argmax(1))) > 1  # the outputs are not trivially constant


def test_emulation_agrees_after_finetuning_moves_the_weights(traced) -> None:  # type: ignore[no-untyped-def]
    from tagformer.export.fpga.qat import finetune

    _, n, hw, plan, _ = traced
    x, m = reallike_jets(128, n, seed=5)
    y = torch.arange(128) % 5
    finetune(hw, plan, (x, m, y), epochs=1, lr=1e-2, batch_size=64)
    circuit = trace_circuit(hw, plan, n, F)
    assert np.array_equal(emulate(circuit, x, m, plan), torch_reference(hw, plan, x, m))


def test_estimates_are_positive_and_finite(traced) -> None:  # type: ignore[no-untyped-def]
    _, _, _, _, circuit = traced
    cost = estimate(circuit)
    for key in ("luts", "adder_stages", "latency_ns"):
        assert cost[key] > 0 and math.isfinite(cost[key])
    assert cost["latency_ns"] == cost["cycles"] * 1000 / cost["clock_mhz"]


class _StubCircuit:
    """A circuit whose compiled interpreter is wrong on row 1 (or refuses) and whose reference one is right."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse

    def predict(self, data: np.ndarray, n_threads: int = 1) -> np.ndarray:
        if self.refuse:
            raise RuntimeError("Unsupported msb_mux shift configuration")
        out = data[:, :2].copy()
        out[1] += 1.0
        return out

    def __call__(self, row: np.ndarray) -> np.ndarray:
        return row[:2]


@pytest.mark.parametrize("refuse", [False, True])
def test_reference_interpreter_arbitrates_the_compiled_one(refuse: bool) -> None:
    from tagformer.export.fpga.emulate import emulate_checked, input_matrix
    from tagformer.export.fpga.fixed import FixedSpec
    from tagformer.export.fpga.ops import QuantPlan

    plan = QuantPlan(bits=8, acts={"input": FixedSpec(1, 3, 4)})
    x, m = random_jets(4, 3)
    reference = input_matrix(x, m, plan)[:, :2]
    out, info = emulate_checked(_StubCircuit(refuse), x, m, plan, reference)
    assert np.array_equal(out, reference)
    assert info == ({"compiled_interpreter": "refused", "compiled_interpreter_disagreements": 4, "python_jets": 4}
                    if refuse else
                    {"compiled_interpreter": "ok", "compiled_interpreter_disagreements": 1, "python_jets": 1})
