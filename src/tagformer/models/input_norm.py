"""Per-feature input standardisation as a module: statistics are buffers saved with the weights.

The statistics are fitted on the real particles of the training split
(:class:`tagformer.data.normalise.Normaliser`) and copied in with :meth:`InputNorm.set_stats` before
training; from then on they travel with the state dict and appear as the first node of an exported
graph. A freshly built module is the identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class InputNorm(nn.Module):
    """``x -> (x - mean) / std`` per feature, padded slots set to 0.

    Parameters
    ----------
    num_features : F, the last axis of the features.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))

    def set_stats(self, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor) -> None:
        """Copy fitted statistics in (length F each; ``std`` > 0)."""
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean_t.shape != self.mean.shape or std_t.shape != self.std.shape:
            raise ValueError(f"expected {self.mean.numel()} means and stds, got {mean_t.numel()} and {std_t.numel()}")
        if not bool((std_t > 0).all()):
            raise ValueError("every std must be > 0")
        with torch.no_grad():
            self.mean.copy_(mean_t)
            self.std.copy_(std_t)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean.to(features.dtype)) / self.std.to(features.dtype)
        return torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
