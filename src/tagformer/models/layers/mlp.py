"""Feed-forward blocks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


def make_activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTIVATIONS)}") from None


class MLP(nn.Module):
    """Linear layers with an activation between them (none after the last).

    Parameters
    ----------
    dims : sizes ``[in, hidden..., out]``.
    activation : name of the activation.
    norm : optional normalisation applied before each activation (``"layer"``, ``"dyt"`` or None).
    dropout : dropout after each hidden activation.
    """

    def __init__(
        self,
        dims: Sequence[int],
        activation: str = "gelu",
        norm: str | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        from tagformer.models.layers.norm import make_norm

        if len(dims) < 2:
            raise ValueError("MLP needs at least input and output sizes")
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                if norm:
                    layers.append(make_norm(norm, b))
                layers.append(make_activation(activation))
                if dropout:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
