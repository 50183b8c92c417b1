"""The operation set hardware variants are written in, with a torch and a da4ml implementation.

A hardware variant's ``forward(x, mask, ops)`` calls only these methods and numpy-compatible arithmetic
(``+``, ``-``, ``*``, indexing with ``None``), so the same code runs

- on torch tensors (:class:`TorchOps`): batched (B, N, F), float64, either float (no quantisation; used to
  calibrate ranges and to check the variant against the original model) or with fixed-point fake
  quantisation (quantisation-aware fine-tuning and the quantised reference);
- on da4ml symbolic arrays (:class:`TraceOps`): one jet (N, F), every quantisation point a da4ml
  ``quantize`` with the same format, every weight the same quantised constant.

Shapes passed to :meth:`reshape`, :meth:`transpose` and :meth:`einsum` leave out the batch axis, and so do
the axes of :meth:`concat`.

Side inputs: a variant may take per-particle integers computed outside the circuit (PHAT's grid cells) as
the last :attr:`QuantPlan.side_columns` columns of ``x``, on the fixed format :attr:`QuantPlan.side_spec`;
the other columns are the features, on the calibrated ``"input"`` format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from tagformer.export.fpga.fixed import FixedSpec, fake_quant, quantize, spec_for_range
from tagformer.export.fpga.lut import Lut

#: Placeholder format of the side inputs of variants that take none.
NO_SIDE = FixedSpec(0, 1, 0)


@dataclass
class QuantPlan:
    """Bit widths of one quantised model.

    bits : width of weights and activations. Biases get ``2 * bits`` (they add no precision the
        accumulator does not already have at realistic scales).
    acts : activation name -> format (from :func:`calibrate`).
    luts : name -> lookup table (softmax exp and reciprocal).
    side_columns, side_spec : how many trailing columns of ``x`` are side inputs, and their fixed format.
    """

    bits: int
    acts: dict[str, FixedSpec] = field(default_factory=dict)
    luts: dict[str, Lut] = field(default_factory=dict)
    side_columns: int = 0
    side_spec: FixedSpec = NO_SIDE

    def input_specs(self, columns: int) -> list[FixedSpec]:
        """The format of each of the ``columns`` input columns: features, then the side inputs."""
        return [self.acts["input"]] * (columns - self.side_columns) + [self.side_spec] * self.side_columns

    def weight_spec(self, w: torch.Tensor) -> FixedSpec:
        return spec_for_range(float(w.detach().abs().max()), self.bits, True)

    def bias_spec(self, b: torch.Tensor) -> FixedSpec:
        return spec_for_range(float(b.detach().abs().max()), 2 * self.bits, True)

    def quantized_linear(self, lin: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's weight and bias on their fixed-point grids (float64, no gradient; no bias: zeros)."""
        w = lin.weight.double()
        if lin.bias is None:
            return quantize(w, self.weight_spec(w)), torch.zeros(w.shape[0], dtype=torch.float64)
        b = lin.bias.double()
        return quantize(w, self.weight_spec(w)), quantize(b, self.bias_spec(b))


class TorchOps:
    """Batched torch implementation. ``plan=None``: float; else fake-quantised with ``plan``.

    ``record`` (a dict) collects the largest absolute value seen at each activation (calibration).
    """

    def __init__(self, plan: QuantPlan | None = None, record: dict[str, float] | None = None) -> None:
        self.plan, self.record = plan, record
        self.signs: dict[str, bool] = {}

    @property
    def quantized(self) -> bool:
        return self.plan is not None

    def act(self, name: str, x: torch.Tensor, signed: bool = True) -> torch.Tensor:
        self.signs[name] = signed
        if self.record is not None:
            self.record[name] = max(self.record.get(name, 0.0), float(x.detach().abs().max()))
        if self.plan is None:
            return x
        return fake_quant(x, self.plan.acts[name])

    def linear(self, x: torch.Tensor, lin: nn.Linear) -> torch.Tensor:
        y = x @ self.weight(lin.weight).T
        return y if lin.bias is None else y + self.weight(lin.bias, bias=True)

    def weight(self, w: torch.Tensor, bias: bool = False) -> torch.Tensor:
        """A trainable constant on its weight (or, ``bias=True``, bias) grid; float mode: unchanged."""
        w = w.double()
        if self.plan is None:
            return w
        return fake_quant(w, self.plan.bias_spec(w) if bias else self.plan.weight_spec(w))

    def constant(self, a: np.ndarray) -> torch.Tensor:
        """A fixed (non-trainable, exactly representable) array, e.g. a 0/1 membership matrix."""
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    def const_einsum(self, eq: str, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``einsum(eq, x, w)`` of a batched activation with an unbatched constant from :meth:`weight`."""
        ins, out = eq.split("->")
        left, right = ins.split(",")
        return torch.einsum(f"Z{left},{right}->Z{out}", x, w)

    def fixed(self, x: torch.Tensor, spec: FixedSpec) -> torch.Tensor:
        """``x`` onto a fixed (not calibrated) format, e.g. an integer index; no gradient, also in float mode."""
        return quantize(x, spec)

    def gather(self, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Rows of the trainable constant table ``w`` (T, C) (on its weight grid) selected by the integer
        activation ``idx`` (...) with values in [0, T): (..., C). In the circuit, C lookup tables on ``idx``."""
        return self.weight(w)[idx.detach().long()]

    def concat(self, xs: list[torch.Tensor], axis: int) -> torch.Tensor:
        return torch.cat(xs, dim=axis + 1 if axis >= 0 else axis)

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)

    def sum(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.sum(dim=axis)

    def max(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.amax(dim=axis)

    def einsum(self, eq: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ins, out = eq.split("->")
        left, right = ins.split(",")
        return torch.einsum(f"Z{left},Z{right}->Z{out}", a, b)

    def reshape(self, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return x.reshape(x.shape[0], *shape)

    def transpose(self, x: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
        return x.permute(0, *(a + 1 for a in axes))

    def lut(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Quantise ``x`` onto the table's input format and look it up (float mode: the smooth function)."""
        if self.plan is None:
            table = FLOAT_FUNCTIONS[name]
            return table(x)
        lut = self.plan.luts[name]
        return lut.lookup_torch(fake_quant(x, lut.inp))


#: The smooth functions of the tables, used by float-mode :meth:`TorchOps.lut`.
FLOAT_FUNCTIONS = {"exp": torch.exp, "reciprocal": lambda x: 1.0 / torch.clamp(x, min=1.0),
                   "count_reciprocal": lambda x: 1.0 / torch.clamp(x, min=1.0)}


class TraceOps:
    """One-jet da4ml implementation: records the integer circuit of the quantised model."""

    def __init__(self, plan: QuantPlan) -> None:
        self.plan = plan

    quantized = True

    def act(self, name: str, x: Any, signed: bool = True) -> Any:
        s = self.plan.acts[name]
        return x.quantize(s.k, s.i, s.f, s.overflow, s.round)

    def linear(self, x: Any, lin: nn.Linear) -> Any:
        w, b = self.plan.quantized_linear(lin)
        y = x @ w.T.numpy()
        return y if lin.bias is None else y + b.numpy()

    def weight(self, w: torch.Tensor, bias: bool = False) -> np.ndarray:
        w = w.detach().double()
        return quantize(w, self.plan.bias_spec(w) if bias else self.plan.weight_spec(w)).numpy()

    def constant(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64)

    def const_einsum(self, eq: str, x: Any, w: np.ndarray) -> Any:
        from da4ml.trace.ops import einsum

        return einsum(eq, x, w)

    def fixed(self, x: Any, spec: FixedSpec) -> Any:
        return x.quantize(spec.k, spec.i, spec.f, spec.overflow, spec.round)

    def gather(self, idx: Any, w: torch.Tensor) -> Any:
        table = self.weight(w)
        s = self.plan.weight_spec(w.detach().double())
        columns = [idx.apply(lambda v, c=c: table[np.rint(v).astype(np.int64), c]).quantize(s.k, s.i, s.f, "SAT", "RND")
                   for c in range(table.shape[1])]
        return np.stack(columns, axis=-1)

    def concat(self, xs: list[Any], axis: int) -> Any:
        return np.concatenate(xs, axis=axis)

    def relu(self, x: Any) -> Any:
        return x.relu()

    def sum(self, x: Any, axis: int) -> Any:
        return np.sum(x, axis=axis)

    def max(self, x: Any, axis: int) -> Any:
        return np.amax(x, axis=axis)

    def einsum(self, eq: str, a: Any, b: Any) -> Any:
        from da4ml.trace.ops import einsum

        return einsum(eq, a, b)

    def reshape(self, x: Any, shape: tuple[int, ...]) -> Any:
        return x.reshape(shape)

    def transpose(self, x: Any, axes: tuple[int, ...]) -> Any:
        return x.transpose(axes)

    def lut(self, name: str, x: Any) -> Any:
        lut = self.plan.luts[name]
        s = lut.inp
        x = x.quantize(s.k, s.i, s.f, s.overflow, s.round)
        return x.apply(lut.lookup_numpy).quantize(lut.out.k, lut.out.i, lut.out.f, "SAT", "RND")


def calibrated_plan(bits: int, record: dict[str, float], signed: dict[str, bool],
                    luts: dict[str, Lut] | None = None, side_columns: int = 0,
                    side_spec: FixedSpec = NO_SIDE) -> QuantPlan:
    """A :class:`QuantPlan` whose activation formats just cover the recorded ranges."""
    acts = {name: spec_for_range(value, bits, signed[name]) for name, value in record.items()}
    return QuantPlan(bits=bits, acts=acts, luts=dict(luts or {}), side_columns=side_columns, side_spec=side_spec)


def ceil_log2(n: float) -> int:
    return math.ceil(math.log2(n)) if n > 1 else 0
