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
    """``num_targets`` physical values (B, T) from the jet embedding (B, J), through an optional hidden layer.

    The network predicts the *standardised* target ``z``; :meth:`forward` returns ``z * std + mean``, passed
    through ``exp`` when ``log_target`` (then ``mean`` and ``std`` describe ``log(target)``). The statistics
    are buffers, so they travel with the weights (``best.pt``) like the input normalisation; they are the
    identity (mean 0, std 1) until :meth:`set_target_stats` sets them from the training targets.

    Parameters
    ----------
    jet_dim : width of the jet embedding.
    num_targets : number of regressed values (e.g. 1 for the jet mass).
    hidden : width of one GELU hidden layer, or 0 for a single linear map.
    log_target : the network regresses ``log(target)`` (targets must be > 0).
    """

    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(self, jet_dim: int, num_targets: int = 1, hidden: int = 0, log_target: bool = False) -> None:
        super().__init__()
        if num_targets < 1:
            raise ValueError(f"num_targets must be >= 1, got {num_targets}")
        self.num_targets = num_targets
        self.log_target = bool(log_target)
        if hidden > 0:
            self.net: nn.Module = nn.Sequential(nn.Linear(jet_dim, hidden), nn.GELU(), nn.Linear(hidden, num_targets))
        else:
            self.net = nn.Linear(jet_dim, num_targets)
        self.register_buffer("target_mean", torch.zeros(num_targets))
        self.register_buffer("target_std", torch.ones(num_targets))

    def set_target_stats(self, mean: torch.Tensor | float | list[float],
                         std: torch.Tensor | float | list[float]) -> None:
        """Set the standardisation (of ``log(target)`` when ``log_target``); ``std`` must be > 0."""
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1).expand(self.num_targets)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1).expand(self.num_targets)
        if not (torch.isfinite(mean_t).all() and torch.isfinite(std_t).all() and (std_t > 0).all()):
            raise ValueError(f"target statistics must be finite with std > 0, got mean {mean_t.tolist()}, "
                             f"std {std_t.tolist()}")
        with torch.no_grad():
            self.target_mean.copy_(mean_t)
            self.target_std.copy_(std_t)

    def standardised(self, embedding: torch.Tensor) -> torch.Tensor:
        """The network's raw output ``z`` (B, T), on the standardised (log if ``log_target``) scale."""
        return self.net(embedding)

    def to_physical(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised ``z`` -> physical values (GeV for a mass)."""
        y = z * self.target_std + self.target_mean
        return torch.exp(y) if self.log_target else y

    def to_standard(self, y: torch.Tensor) -> torch.Tensor:
        """Physical values -> the standardised scale (the inverse of :meth:`to_physical`; non-positive values
        are clamped to a tiny positive value first when ``log_target``)."""
        if self.log_target:
            y = torch.log(y.clamp_min(torch.finfo(y.dtype).tiny))
        return (y - self.target_mean) / self.target_std

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.to_physical(self.standardised(embedding))
