"""Masked, permutation-invariant pooling over particles."""

from __future__ import annotations

import torch
from torch import nn


def masked_fill_padding(x: torch.Tensor, mask: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """Set padded slots (``mask`` False) of ``x`` (B, N, D) to ``value`` without touching real ones."""
    return x.masked_fill(~mask.unsqueeze(-1), value)


class MaskedPool(nn.Module):
    """Pool (B, N, D) -> (B, D) over real particles only: ``"mean"``, ``"max"``, ``"sum"`` or ``"meanmax"``
    (concatenation, output 2D). Jets with no real particle pool to zeros."""

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in ("mean", "max", "sum", "meanmax"):
            raise ValueError(f"unknown pooling {mode!r}; choose from mean, max, sum, meanmax")
        self.mode = mode

    def out_dim(self, dim: int) -> int:
        return 2 * dim if self.mode == "meanmax" else dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        total = (x * m).sum(dim=1)
        count = m.sum(dim=1).clamp(min=1.0)
        mean = total / count
        if self.mode in ("max", "meanmax"):
            neg = torch.finfo(x.dtype).min
            mx = x.masked_fill(~mask.unsqueeze(-1), neg).amax(dim=1)
            mx = torch.where(mask.any(dim=1, keepdim=True), mx, torch.zeros_like(mx))
        if self.mode == "mean":
            return mean
        if self.mode == "sum":
            return total
        if self.mode == "max":
            return mx
        return torch.cat([mean, mx], dim=-1)
