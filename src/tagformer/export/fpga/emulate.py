"""Bit-exact emulation: trace a quantised hardware variant through da4ml and run its compiled interpreter.

:func:`trace_circuit` replays ``model.forward`` on da4ml symbolic fixed-point arrays (one jet of ``N``
particles: ``N * F`` feature inputs then ``N`` mask bits) and returns da4ml's ``CombLogic``, the integer
circuit (a variant with side inputs, e.g. PHAT's grid cells, has them as the last columns of each particle's
features). :func:`emulate` runs it on quantised inputs with da4ml's C++ interpreter (int64 arithmetic).
:func:`torch_reference` is the torch quantised model on the same inputs; the two agree exactly (tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tagformer.export.fpga import require_da4ml
from tagformer.export.fpga.fixed import FixedSpec, quantize
from tagformer.export.fpga.hardware import HardwareModel
from tagformer.export.fpga.ops import QuantPlan, TorchOps, TraceOps

#: Format of the mask inputs: unsigned, one integer bit, no fraction (values 0 and 1).
MASK_SPEC = FixedSpec(0, 1, 0)


def quantize_inputs(x: torch.Tensor, m: torch.Tensor, plan: QuantPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised features onto the input format (side inputs onto theirs) and the mask as 0/1 (float64)."""
    x, side = x.double(), plan.side_columns
    if not side:
        return quantize(x, plan.acts["input"]), m.double()
    return torch.cat([quantize(x[..., :-side], plan.acts["input"]), quantize(x[..., -side:], plan.side_spec)],
                     dim=-1), m.double()


def trace_circuit(model: HardwareModel, plan: QuantPlan, num_particles: int, in_features: int) -> Any:
    """The da4ml ``CombLogic`` of ``model`` quantised with ``plan`` for jets of ``num_particles``."""
    require_da4ml()
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    hw = HWConfig(1, -1, -1)
    x = FixedVariableArrayInput((num_particles, in_features), hwconf=hw)
    m = FixedVariableArrayInput((num_particles,), hwconf=hw)
    m = m.quantize(MASK_SPEC.k, MASK_SPEC.i, MASK_SPEC.f)
    specs = plan.input_specs(in_features)
    kif = [np.array([getattr(s, a) for s in specs]) for a in ("k", "i", "f")]
    xq = x.quantize(*kif)  # inputs arrive on their formats (da4ml inputs take WRAP/TRN only)
    with torch.no_grad():
        out = model(xq, m, TraceOps(plan))
    inputs = list(x._vars.ravel()) + list(m._vars.ravel())
    return comb_trace(inputs, list(out._vars.ravel()))


def input_matrix(x: torch.Tensor, m: torch.Tensor, plan: QuantPlan) -> np.ndarray:
    """The circuit's input rows (B, N * F + N): quantised features particle by particle, then the mask bits."""
    xq, mq = quantize_inputs(x, m, plan)
    return np.ascontiguousarray(np.concatenate([xq.reshape(len(xq), -1).numpy(), mq.numpy()], axis=1))


def emulate(circuit: Any, x: torch.Tensor, m: torch.Tensor, plan: QuantPlan, engine: str = "compiled") -> np.ndarray:
    """Circuit outputs (B, C) for features ``x`` (B, N, F) and mask ``m`` (B, N) (inputs quantised here).

    ``engine="compiled"``: da4ml's C++ interpreter (fast); ``"python"``: da4ml's reference interpreter of the
    same circuit (``CombLogic.__call__``, ~0.1 s per jet for a 40k-operation circuit).
    """
    data = input_matrix(x, m, plan)
    if engine == "python":
        return np.array([circuit(row) for row in data], dtype=np.float64).reshape(len(x), -1)
    return np.asarray(circuit.predict(data, n_threads=1)).reshape(len(x), -1)


def emulate_checked(circuit: Any, x: torch.Tensor, m: torch.Tensor, plan: QuantPlan,
                    reference: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The circuit's outputs, arbitrated by da4ml's reference interpreter where the compiled one is in doubt.

    da4ml 0.6's compiled interpreter refuses some circuits (``Unsupported msb_mux shift configuration``) and,
    on a few jets of others, returns values its own reference interpreter does not (seen on a trained
    linformer; docs/fpga.md). So: run the compiled interpreter; on the jets where it disagrees with
    ``reference`` (the torch quantised model), or on all jets if it refuses the circuit, run the reference
    interpreter and keep its outputs. Returns the outputs and ``{"compiled_interpreter": "ok" | "refused",
    "compiled_interpreter_disagreements": jets where the two interpreters differ, "python_jets": jets run
    through the reference interpreter}``.
    """
    try:
        out = emulate(circuit, x, m, plan)
        status = "ok"
        doubt = np.where(np.any(out != reference, axis=1))[0]
    except RuntimeError:
        out, status = np.full_like(reference, np.nan), "refused"
        doubt = np.arange(len(reference))
    checked = emulate(circuit, x[doubt], m[doubt], plan, engine="python") if len(doubt) else out[:0]
    disagree = int(np.any(out[doubt] != checked, axis=1).sum()) if status == "ok" else len(doubt)
    out = out.copy()
    out[doubt] = checked
    return out, {"compiled_interpreter": status, "compiled_interpreter_disagreements": disagree,
                 "python_jets": len(doubt)}


@torch.no_grad()
def torch_reference(model: HardwareModel, plan: QuantPlan, x: torch.Tensor, m: torch.Tensor) -> np.ndarray:
    """The torch quantised model's outputs (B, C), float64, on the same quantised inputs."""
    xq, mq = quantize_inputs(x, m, plan)
    return model(xq, mq, TorchOps(plan)).numpy()
