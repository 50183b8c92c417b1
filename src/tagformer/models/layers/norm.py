"""Normalisations: LayerNorm and two forms of Dynamic Tanh (DyT, arXiv:2503.10622), chosen by name."""

from __future__ import annotations

import torch
from torch import nn

#: Names :func:`make_norm` accepts.
NORMS = ("layer", "dyt", "dyt_scalar", "none")


class DyT(nn.Module):
    """Dynamic Tanh: ``weight * tanh(alpha * x) + bias``, a per-token, statistics-free norm.

    The form of the DyT paper: scalar ``alpha`` (initialised to ``alpha_init``), per-channel affine
    ``weight``/``bias`` (2 * dim + 1 parameters). Cheap in hardware (no mean/variance reduction).
    """

    def __init__(self, dim: int, alpha_init: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha_init)))
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * torch.tanh(self.alpha * x) + self.bias


class ScalarDyT(nn.Module):
    """Dynamic Tanh without per-channel affine: ``tanh(alpha * x + beta)`` with scalar ``alpha``, ``beta``.

    The form SAL-T's public TF code uses (``alpha = 1``, ``beta = 0`` at initialisation; 2 parameters);
    outputs stay in (-1, 1).
    """

    def __init__(self, alpha_init: float = 1.0, beta_init: float = 0.0) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha_init)))
        self.beta = nn.Parameter(torch.full((1,), float(beta_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * x + self.beta)


def make_norm(kind: str | None, dim: int, eps: float = 1e-5) -> nn.Module:
    """``"layer"`` -> LayerNorm (epsilon ``eps``), ``"dyt"`` -> :class:`DyT`, ``"dyt_scalar"`` ->
    :class:`ScalarDyT`, ``None``/``"none"`` -> identity."""
    if kind in (None, "none"):
        return nn.Identity()
    if kind == "layer":
        return nn.LayerNorm(dim, eps=eps)
    if kind == "dyt":
        return DyT(dim)
    if kind == "dyt_scalar":
        return ScalarDyT()
    raise ValueError(f"unknown norm {kind!r}; choose from {', '.join(NORMS)}")
