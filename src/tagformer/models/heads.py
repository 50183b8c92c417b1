"""Heads: small maps from the encoder's jet embedding (B, J) to a task's output.

A head is deliberately one linear map: everything learned before it (class attention, jet-level MLPs,
the final norm) belongs to the encoder's ``pool``, so heads can be swapped without touching the encoder.
"""

from __future__ import annotations

import torch
from torch import nn


class ClassificationHead(nn.Module):
    """Class logits (B, C) from the jet embedding (B, J)."""

    def __init__(self, jet_dim: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.linear = nn.Linear(jet_dim, num_classes)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.linear(embedding)


class RegressionHead(nn.Module):
    """``num_targets`` real values (B, T) from the jet embedding (B, J), through an optional hidden layer.

    Parameters
    ----------
    jet_dim : width of the jet embedding.
    num_targets : number of regressed values (e.g. 1 for the jet mass).
    hidden : width of one GELU hidden layer, or 0 for a single linear map.
    """

    def __init__(self, jet_dim: int, num_targets: int = 1, hidden: int = 0) -> None:
        super().__init__()
        self.num_targets = num_targets
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(nn.Linear(jet_dim, hidden), nn.GELU(), nn.Linear(hidden, num_targets))
        else:
            self.net = nn.Linear(jet_dim, num_targets)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(embedding)
