"""Lookup tables: a function tabulated on every value of a fixed-point input format.

The table is built once in float64 numpy and quantised onto its output format; torch indexes it and the
da4ml trace hands the same table to da4ml's lookup operation, so both sides read identical entries. In
training the gradient is the one of the smooth function (straight-through).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from tagformer.export.fpga.fixed import FixedSpec, quantize_numpy


@dataclass(frozen=True)
class Lut:
    """``fn`` tabulated on ``inp`` (all ``2**inp.bits`` values) and quantised onto ``out``.

    ``smooth`` is the differentiable torch version of ``fn`` used for the backward pass.
    """

    name: str
    inp: FixedSpec
    out: FixedSpec
    fn: Callable[[np.ndarray], np.ndarray]
    smooth: Callable[[torch.Tensor], torch.Tensor]
    table: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = np.arange(-self.inp.k * 2 ** (self.inp.i + self.inp.f), 2 ** (self.inp.i + self.inp.f))
        grid = codes.astype(np.float64) * self.inp.step
        object.__setattr__(self, "table", quantize_numpy(self.fn(grid), self.out))

    def index(self, x: np.ndarray) -> np.ndarray:
        """Table positions of values on the input grid."""
        return np.rint((np.asarray(x, dtype=np.float64) - self.inp.low) * 2.0 ** self.inp.f).astype(np.int64)

    def lookup_numpy(self, x: np.ndarray) -> np.ndarray:
        return self.table[self.index(x)]

    def lookup_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Table values at ``x`` (which must lie on the input grid), straight-through gradient."""
        table = torch.as_tensor(self.table, dtype=x.dtype, device=x.device)
        idx = torch.round((x.detach() - self.inp.low) * 2.0 ** self.inp.f).long()
        q = table[idx]
        if not x.requires_grad:
            return q
        smooth = self.smooth(x)
        return smooth + (q - smooth).detach()


def exp_lut(inp: FixedSpec, out: FixedSpec) -> Lut:
    """``exp(x)`` for the (non-positive, capped) softmax input."""
    return Lut("exp", inp, out, np.exp, torch.exp)


def reciprocal_lut(inp: FixedSpec, out: FixedSpec) -> Lut:
    """``1 / max(x, 1)``: the softmax normaliser (the sum is >= 1 when a real key exists)."""
    return Lut("reciprocal", inp, out, lambda x: 1.0 / np.maximum(x, 1.0),
               lambda x: 1.0 / torch.clamp(x, min=1.0))
