"""Fixed-point formats and the torch quantiser (round / saturate modes, straight-through gradient).

A format is ``(k, i, f)`` as in da4ml: ``k`` sign bit (0 or 1), ``i`` integer bits excluding the sign, ``f``
fractional bits; the representable values are ``n * 2**-f`` for integers ``-k * 2**(i + f) <= n < 2**(i + f)``.
Rounding ``RND`` is half-up (``floor(x * 2**f + 0.5)``), ``TRN`` truncates (floor); overflow ``SAT`` clamps
to the range, ``WRAP`` wraps around it (two's complement). These are exactly da4ml's semantics, so a value
quantised here equals the same value quantised in the traced circuit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from tagformer.errors import ConfigError

ROUND_MODES = ("RND", "TRN")
OVERFLOW_MODES = ("SAT", "WRAP")
#: Smallest and largest total width (sign + integer + fractional bits) :func:`check_bits` accepts.
MIN_BITS, MAX_BITS = 2, 24


class FixedSpec(NamedTuple):
    """A fixed-point format with its rounding and overflow modes."""

    k: int
    i: int
    f: int
    round: str = "RND"
    overflow: str = "SAT"

    @property
    def bits(self) -> int:
        return self.k + self.i + self.f

    @property
    def step(self) -> float:
        return 2.0 ** -self.f

    @property
    def low(self) -> float:
        return -self.k * 2.0 ** self.i

    @property
    def high(self) -> float:
        return 2.0 ** self.i - self.step

    def as_dict(self) -> dict:
        return {"k": self.k, "i": self.i, "f": self.f, "round": self.round, "overflow": self.overflow}


def check_bits(bits: int) -> int:
    """``bits`` if it is a usable total width, else a :class:`ConfigError`."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(f"--bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    return bits


def spec_for_range(max_abs: float, bits: int, signed: bool, **modes: str) -> FixedSpec:
    """The ``bits``-wide format whose range just covers ``max_abs`` (all remaining bits fractional)."""
    k = int(signed)
    i = math.ceil(math.log2(max_abs)) if max_abs > 0 and math.isfinite(max_abs) else 0
    i = max(min(i, bits - k), -16)
    return FixedSpec(k, i, bits - k - i, **modes)


def _integer_grid(x: torch.Tensor, spec: FixedSpec) -> torch.Tensor:
    if spec.round not in ROUND_MODES or spec.overflow not in OVERFLOW_MODES:
        raise ValueError(f"unknown modes {spec.round}/{spec.overflow}")
    n = x * 2.0 ** spec.f
    n = torch.floor(n + 0.5) if spec.round == "RND" else torch.floor(n)
    top = 2.0 ** (spec.i + spec.f)
    if spec.overflow == "SAT":
        return n.clamp(-spec.k * top, top - 1)
    width = 2.0 ** spec.bits
    bias = spec.k * width / 2
    return torch.remainder(n + bias, width) - bias


def quantize(x: torch.Tensor, spec: FixedSpec) -> torch.Tensor:
    """``x`` rounded and saturated (or wrapped) onto ``spec`` (no gradient)."""
    return _integer_grid(x.detach(), spec) * 2.0 ** -spec.f


def to_integers(x: torch.Tensor | np.ndarray, spec: FixedSpec) -> np.ndarray:
    """The integer codes ``x * 2**f`` of values already on ``spec`` (int64; raises if one is not)."""
    arr = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    scaled = arr * 2.0 ** spec.f
    codes = np.rint(scaled)
    if not np.array_equal(codes, scaled):
        raise ValueError("values are not on the fixed-point grid")
    return codes.astype(np.int64)


def fake_quant(x: torch.Tensor, spec: FixedSpec) -> torch.Tensor:
    """Quantised forward, straight-through backward (gradient 1 inside the range, 0 where saturated)."""
    q = quantize(x, spec)
    if not x.requires_grad:
        return q
    inside = ((x >= spec.low) & (x <= spec.high)).to(x.dtype) if spec.overflow == "SAT" else 1.0
    return x * inside + (q - x * inside).detach()


def quantize_numpy(x: np.ndarray, spec: FixedSpec) -> np.ndarray:
    """:func:`quantize` on a float64 numpy array."""
    return quantize(torch.as_tensor(np.asarray(x, dtype=np.float64)), spec).numpy()
