"""Non-attention baselines: Deep Sets (arXiv:1703.06114), PointNet (arXiv:1612.00593) and an
Interaction Network over all particle pairs (arXiv:1612.00222; JEDI-net, arXiv:1908.05318).

Each is an :class:`~tagformer.models.encoder.Encoder`: the per-particle network gives the tokens; masked
pooling and the jet-level MLP give the embedding. The jet-level MLP holds every layer of the former
classifier MLP but its last, each followed by its activation; that last layer is the classification head
now (its pre-split name is the instance's ``legacy_head``, which depends on the number of hidden layers).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.encoder import Encoder
from tagformer.models.layers.mlp import MLP
from tagformer.models.layers.pooling import MaskedPool, masked_fill_padding
from tagformer.models.registry import Capabilities, register_model


def jet_mlp(dims: Sequence[int], dropout: float = 0.0) -> MLP | None:
    """The hidden part of a ReLU classifier ``MLP([*dims, num_classes], dropout=dropout)``: its layers but
    the last, each followed by ReLU (and dropout), under the same names (``net.0``, ...). None when ``dims``
    has no hidden width (the classifier was a single Linear)."""
    if len(dims) < 2:
        return None
    mlp = MLP(dims, activation="relu", dropout=dropout)
    mlp.net.append(nn.ReLU())
    if dropout:
        mlp.net.append(nn.Dropout(dropout))
    return mlp


def legacy_final_layer(attribute: str, hidden: int, dropout: float = 0.0) -> str:
    """Pre-split name of the last Linear of a ReLU classifier ``MLP`` stored as ``attribute`` with ``hidden``
    hidden layers (each hidden layer is Linear, ReLU and, with dropout, Dropout)."""
    return f"{attribute}.net.{hidden * (3 if dropout else 2)}"


def _apply(layers: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    return x if layers is None else layers(x)


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
class DeepSets(Encoder):
    """Energy-flow-style Deep Sets: per-particle MLP phi, masked symmetric pooling, MLP rho.

    Tokens are phi's outputs (``phi_dims[-1]`` features); the embedding is rho's last hidden layer after
    its ReLU (``rho_dims[-1]`` features; the pooled width if ``rho_dims`` is empty).

    Parameters
    ----------
    in_features : per-particle input features.
    phi_dims : widths of the per-particle network (ReLU between and after).
    rho_dims : hidden widths of the jet-level network.
    pooling : ``"sum"`` (Deep Sets), ``"mean"``, ``"max"`` or ``"meanmax"``.
    """

    def __init__(
        self,
        in_features: int,
        phi_dims: Sequence[int] = (64, 64, 64),
        rho_dims: Sequence[int] = (64, 64),
        pooling: str = "sum",
    ) -> None:
        super().__init__()
        self.phi = nn.Sequential(MLP([in_features, *phi_dims], activation="relu"), nn.ReLU())
        self.masked_pool = MaskedPool(pooling)
        pooled = self.masked_pool.out_dim(phi_dims[-1])
        self.rho = jet_mlp([pooled, *rho_dims])
        self.embed_dim = phi_dims[-1]
        self.jet_dim = rho_dims[-1] if rho_dims else pooled
        self.legacy_head = legacy_final_layer("rho", len(rho_dims))

    def encode(self, batch: JetBatch) -> torch.Tensor:
        x = self.phi(masked_fill_padding(batch.features, batch.mask))
        return masked_fill_padding(x, batch.mask)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _apply(self.rho, self.masked_pool(tokens, mask))


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
class PointNet(Encoder):
    """PointNet without input transforms: shared per-particle MLP with LayerNorm, masked max pooling.

    Tokens are the shared MLP's outputs (``point_dims[-1]`` features); the embedding is the last hidden
    layer of the jet MLP ``head`` after its ReLU and dropout (``head_dims[-1]`` features).

    Parameters
    ----------
    in_features : per-particle input features.
    point_dims : widths of the shared per-particle MLP.
    head_dims : hidden widths of the jet-level MLP.
    dropout : dropout in the jet-level MLP.
    """

    def __init__(
        self,
        in_features: int,
        point_dims: Sequence[int] = (64, 64, 128),
        head_dims: Sequence[int] = (128, 64),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.point = nn.Sequential(MLP([in_features, *point_dims], activation="relu", norm="layer"), nn.ReLU())
        self.masked_pool = MaskedPool("max")
        self.head = jet_mlp([point_dims[-1], *head_dims], dropout=dropout)
        self.embed_dim = point_dims[-1]
        self.jet_dim = head_dims[-1] if head_dims else point_dims[-1]
        self.legacy_head = legacy_final_layer("head", len(head_dims), dropout)

    def encode(self, batch: JetBatch) -> torch.Tensor:
        x = self.point(masked_fill_padding(batch.features, batch.mask))
        return masked_fill_padding(x, batch.mask)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _apply(self.head, self.masked_pool(tokens, mask))


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
class InteractionNet(Encoder):
    """Interaction network on the fully connected particle graph (JEDI-net style).

    Each ordered pair (i, j), i != j, of real particles gets an edge message ``f_R([x_i, x_j])``; messages
    are summed into the receiving particle, and ``f_O([x_i, sum_j e_ij])`` gives its token
    (``node_dims[-1]`` features). Masked sum pooling and the jet MLP ``head`` (after its ReLU,
    ``head_dims[-1]`` features) give the embedding. Cost is O(N^2) in the edge network.

    Parameters
    ----------
    in_features : per-particle input features.
    edge_dims, node_dims, head_dims : widths of f_R, f_O and the hidden jet-level layers.
    """

    def __init__(
        self,
        in_features: int,
        edge_dims: Sequence[int] = (64, 32),
        node_dims: Sequence[int] = (64, 32),
        head_dims: Sequence[int] = (64,),
    ) -> None:
        super().__init__()
        self.edge = nn.Sequential(MLP([2 * in_features, *edge_dims], activation="relu"), nn.ReLU())
        self.node = nn.Sequential(MLP([in_features + edge_dims[-1], *node_dims], activation="relu"), nn.ReLU())
        self.masked_pool = MaskedPool("sum")
        self.head = jet_mlp([node_dims[-1], *head_dims])
        self.embed_dim = node_dims[-1]
        self.jet_dim = head_dims[-1] if head_dims else node_dims[-1]
        self.legacy_head = legacy_final_layer("head", len(head_dims))

    def encode(self, batch: JetBatch) -> torch.Tensor:
        mask = batch.mask
        x = masked_fill_padding(batch.features, mask)
        n = x.shape[1]
        pairs = torch.cat([x.unsqueeze(2).expand(-1, -1, n, -1), x.unsqueeze(1).expand(-1, n, -1, -1)], -1)
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        senders = (mask.unsqueeze(1) & ~eye).unsqueeze(-1)  # (B, 1->N receivers, N senders, 1)
        messages = (self.edge(pairs) * senders).sum(dim=2)
        h = self.node(torch.cat([x, messages], dim=-1))
        return masked_fill_padding(h, mask)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return _apply(self.head, self.masked_pool(tokens, mask))
