"""Normalisations: LayerNorm and Dynamic Tanh (DyT, arXiv:2503.10622), chosen by name."""

from __future__ import annotations

import torch
from torch import nn


class DyT(nn.Module):
    """Dynamic Tanh: ``weight * tanh(alpha * x) + bias``, a per-token, statistics-free norm.

    Cheap in hardware (no mean/variance reduction), used by SAL-T in place of LayerNorm.
    """

    def __init__(self, dim: int, alpha_init: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha_init)))
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * torch.tanh(self.alpha * x) + self.bias


def make_norm(kind: str | None, dim: int) -> nn.Module:
    """``"layer"`` -> LayerNorm, ``"dyt"`` -> DyT, ``None``/``"none"`` -> identity."""
    if kind in (None, "none"):
        return nn.Identity()
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "dyt":
        return DyT(dim)
    raise ValueError(f"unknown norm {kind!r}; choose from layer, dyt, none")
