"""Non-attention baselines: Deep Sets (arXiv:1703.06114), PointNet (arXiv:1612.00593) and an
Interaction Network over all particle pairs (arXiv:1612.00222; JEDI-net, arXiv:1908.05318)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.layers.mlp import MLP
from tagformer.models.layers.pooling import MaskedPool, masked_fill_padding
from tagformer.models.registry import Capabilities, register_model


@register_model(
    "deepsets",
    presets={
        "deepsets_tiny": dict(phi_dims=(32, 32), rho_dims=(32,), pooling="sum"),
        "deepsets": dict(phi_dims=(64, 64, 64), rho_dims=(64, 64), pooling="sum"),
    },
    capabilities=Capabilities(permutation_invariant=True),
    paper="arXiv:1703.06114",
    smallest="deepsets_tiny",
)
class DeepSets(nn.Module):
    """Energy-flow-style Deep Sets: per-particle MLP phi, masked symmetric pooling, MLP rho.

    Parameters
    ----------
    num_classes, in_features : output classes and per-particle input features.
    phi_dims : widths of the per-particle network (ReLU between and after).
    rho_dims : hidden widths of the jet-level network.
    pooling : ``"sum"`` (Deep Sets), ``"mean"``, ``"max"`` or ``"meanmax"``.
    """

    def __init__(
        self,
        num_classes: int,
        in_features: int,
        phi_dims: Sequence[int] = (64, 64, 64),
        rho_dims: Sequence[int] = (64, 64),
        pooling: str = "sum",
    ) -> None:
        super().__init__()
        self.phi = nn.Sequential(MLP([in_features, *phi_dims], activation="relu"), nn.ReLU())
        self.pool = MaskedPool(pooling)
        self.rho = MLP([self.pool.out_dim(phi_dims[-1]), *rho_dims, num_classes], activation="relu")

    def forward(self, batch: JetBatch) -> torch.Tensor:
        x = self.phi(masked_fill_padding(batch.features, batch.mask))
        return self.rho(self.pool(x, batch.mask))


@register_model(
    "pointnet",
    presets={
        "pointnet_tiny": dict(point_dims=(16, 16, 32), head_dims=(32,)),
        "pointnet": dict(point_dims=(64, 64, 128), head_dims=(128, 64)),
    },
    capabilities=Capabilities(permutation_invariant=True),
    paper="arXiv:1612.00593",
    smallest="pointnet_tiny",
)
class PointNet(nn.Module):
    """PointNet without input transforms: shared per-particle MLP with LayerNorm, masked max pooling.

    Parameters
    ----------
    num_classes, in_features : output classes and per-particle input features.
    point_dims : widths of the shared per-particle MLP.
    head_dims : hidden widths of the classifier.
    dropout : dropout in the classifier.
    """

    def __init__(
        self,
        num_classes: int,
        in_features: int,
        point_dims: Sequence[int] = (64, 64, 128),
        head_dims: Sequence[int] = (128, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.point = nn.Sequential(MLP([in_features, *point_dims], activation="relu", norm="layer"), nn.ReLU())
        self.pool = MaskedPool("max")
        self.head = MLP([point_dims[-1], *head_dims, num_classes], activation="relu", dropout=dropout)

    def forward(self, batch: JetBatch) -> torch.Tensor:
        x = self.point(masked_fill_padding(batch.features, batch.mask))
        return self.head(self.pool(x, batch.mask))


@register_model(
    "interaction_net",
    presets={
        "interaction_net_tiny": dict(edge_dims=(16, 16), node_dims=(16, 16), head_dims=(16,)),
        "interaction_net": dict(edge_dims=(64, 32), node_dims=(64, 32), head_dims=(64,)),
    },
    capabilities=Capabilities(permutation_invariant=True),
    paper="arXiv:1908.05318",
    smallest="interaction_net_tiny",
)
class InteractionNet(nn.Module):
    """Interaction network on the fully connected particle graph (JEDI-net style).

    Each ordered pair (i, j), i != j, of real particles gets an edge message ``f_R([x_i, x_j])``; messages
    are summed into the receiving particle, ``f_O([x_i, sum_j e_ij])`` updates it, and masked sum pooling
    plus an MLP classify the jet. Cost is O(N^2) in the edge network.

    Parameters
    ----------
    num_classes, in_features : output classes and per-particle input features.
    edge_dims, node_dims, head_dims : widths of f_R, f_O and the classifier.
    """

    def __init__(
        self,
        num_classes: int,
        in_features: int,
        edge_dims: Sequence[int] = (64, 32),
        node_dims: Sequence[int] = (64, 32),
        head_dims: Sequence[int] = (64,),
    ) -> None:
        super().__init__()
        self.edge = nn.Sequential(MLP([2 * in_features, *edge_dims], activation="relu"), nn.ReLU())
        self.node = nn.Sequential(MLP([in_features + edge_dims[-1], *node_dims], activation="relu"), nn.ReLU())
        self.pool = MaskedPool("sum")
        self.head = MLP([node_dims[-1], *head_dims, num_classes], activation="relu")

    def forward(self, batch: JetBatch) -> torch.Tensor:
        mask = batch.mask
        x = masked_fill_padding(batch.features, mask)
        n = x.shape[1]
        pairs = torch.cat([x.unsqueeze(2).expand(-1, -1, n, -1), x.unsqueeze(1).expand(-1, n, -1, -1)], -1)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        senders = (mask.unsqueeze(1) & ~eye).unsqueeze(-1)  # (B, 1->N receivers, N senders, 1)
        messages = (self.edge(pairs) * senders).sum(dim=2)
        h = self.node(torch.cat([x, messages], dim=-1))
        return self.head(self.pool(h, mask))
