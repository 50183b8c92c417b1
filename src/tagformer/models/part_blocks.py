"""ParT's building blocks: particle and pair embeddings, particle blocks, class-attention blocks.

Each works on dense (B, N, D) tokens or, where it takes a :class:`~tagformer.models.layers.packing.Packing`,
on packed (M, D) real-particle tokens; :mod:`tagformer.models.part` assembles them into the model.
The forward passes use plain modules only; each block's ``for_inference()`` swaps in the fused CPU
kernels and folded BatchNorms (:func:`tagformer.models.inference.prepare_for_inference`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from tagformer.models.attention.full import MultiHeadAttention, safe_key_mask
from tagformer.models.layers.fused import FusedLinear, FusedLinearGELU, fold_batchnorm
from tagformer.models.layers.packing import Packing


class ParTEmbed(nn.Module):
    """BatchNorm on the inputs, then ``LayerNorm -> Linear -> GELU`` for each width in ``dims``."""

    def __init__(self, in_features: int, dims: Sequence[int]) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm1d(in_features)
        layers: list[nn.Module] = []
        for dim in dims:
            layers += [nn.LayerNorm(in_features), nn.Linear(in_features, dim), nn.GELU()]
            in_features = dim
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embed (..., F) features; in training, ``mask`` (...) restricts the BatchNorm statistics to
        real particles (padded rows of the output are then zero)."""
        if mask is not None and self.training:
            real = self.net(self.input_bn(x[mask]))
            return real.new_zeros(*x.shape[:-1], real.shape[-1]).index_put((mask,), real)
        shape = x.shape
        x = self.input_bn(x.reshape(-1, shape[-1])).view(shape)
        return self.net(x)


class PairEmbed(nn.Module):
    """Pointwise MLP on pair features: ``BN -> (Linear -> BN -> GELU)* -> Linear -> BN`` (one output per head).

    Equivalent to ParT's 1x1 convolutions, applied channels-last to any (..., F) tensor.
    :meth:`for_inference` folds the BatchNorms (running statistics) into the linear layers.
    """

    def __init__(self, in_features: int, dims: Sequence[int], out_features: int) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm1d(in_features)
        widths = [in_features, *dims, out_features]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in widths[1:])
        self.acts = nn.ModuleList(nn.GELU() for _ in dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = self.input_bn(x.reshape(-1, shape[-1]))
        for k, (lin, bn) in enumerate(zip(self.linears, self.norms)):
            x = bn(lin(x))
            if k < len(self.acts):
                x = self.acts[k](x)
        return x.view(*shape[:-1], x.shape[-1])  # explicit width: a batch may hold no real pair

    def for_inference(self) -> nn.Sequential:
        """The same map (eval mode) as linear layers with the BatchNorms folded in, fused with their GELUs."""
        layers: list[nn.Module] = []
        for k, (lin, bn) in enumerate(zip(self.linears, self.norms)):
            folded = fold_batchnorm(lin, self.input_bn if k == 0 else None, bn)
            layers.append(FusedLinearGELU(folded) if k < len(self.acts) else folded)
        return nn.Sequential(*layers)


class _ParTLayers(nn.Module):
    """The layers both ParT block kinds hold: normed attention with per-head scale, normed FFN, residual scale."""

    def __init__(self, dim: int, num_heads: int, ffn_ratio: int, dropout: float) -> None:
        super().__init__()
        self.pre_attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout=dropout, head_scale=True)
        self.post_attn_norm = nn.LayerNorm(dim)
        self.pre_fc_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * ffn_ratio)
        self.act = nn.GELU()
        self.post_fc_norm = nn.LayerNorm(dim * ffn_ratio)
        self.fc2 = nn.Linear(dim * ffn_ratio, dim)
        self.resid_scale = nn.Parameter(torch.ones(dim))

    def _fuse_fc1(self) -> None:
        if isinstance(self.fc1, nn.Linear):
            self.fc1, self.act = FusedLinearGELU(self.fc1), nn.Identity()


class ParTBlock(_ParTLayers):
    """ParT particle block on dense (B, N, D) or packed (M, D) tokens (pass ``packing`` for the latter).

    ``x + LN(head_scale * MHA(LN(x), bias))`` then ``w * x + FC2(LN(GELU(FC1(LN(x)))))``.
    """

    def __init__(self, dim: int, num_heads: int, ffn_ratio: int = 4, dropout: float = 0.1) -> None:
        super().__init__(dim, num_heads, ffn_ratio, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None, packing: Packing | None = None
    ) -> torch.Tensor:
        qkv = self.attn.in_proj(self.pre_attn_norm(x))
        if packing is not None:
            qkv = packing.unpack(qkv)
        a = self.attn.attend(*qkv.chunk(3, dim=-1), attn_mask)
        if packing is not None:
            a = packing.pack(a)
        x = x + self.drop(self.post_attn_norm(self.attn.project_out(a)))
        h = self.drop(self.act(self.fc1(self.pre_fc_norm(x))))
        h = self.fc2(self.post_fc_norm(h))
        return torch.addcmul(self.drop(h), self.resid_scale, x)

    def for_inference(self) -> ParTBlock:
        """Fused kernels for the projections and the FFN (the head scale is folded by the attention)."""
        self._fuse_fc1()
        for owner, name in ((self.attn, "in_proj"), (self.attn, "out_proj"), (self, "fc2")):
            layer = getattr(owner, name)
            if isinstance(layer, nn.Linear):
                setattr(owner, name, FusedLinear(layer))
        return self


class ParTClassBlock(_ParTLayers):
    """Class-attention block (no dropout): the class token (B, 1, D) attends to ``LN([cls, particles])``."""

    def __init__(self, dim: int, num_heads: int, ffn_ratio: int = 4) -> None:
        super().__init__(dim, num_heads, ffn_ratio, dropout=0.0)
        self.attn.kind = "class_token"

    def forward(
        self, cls: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, packing: Packing | None = None
    ) -> torch.Tensor:
        kv = self.attn.project_key_value(self.pre_attn_norm(x))
        if packing is not None:
            kv = packing.unpack(kv)
        kv = torch.cat([self.attn.project_key_value(self.pre_attn_norm(cls)), kv], dim=1)
        keys = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)[:, None, None, :]
        # as in the reference, the query is the un-normalised class token; keys/values are normalised
        a = self.attn.attend(self.attn.project_query(cls), *kv.chunk(2, dim=-1), keys)
        cls = cls + self.post_attn_norm(self.attn.project_out(a))
        h = self.act(self.fc1(self.pre_fc_norm(cls)))
        return torch.addcmul(self.fc2(self.post_fc_norm(h)), self.resid_scale, cls)

    def for_inference(self) -> ParTClassBlock:
        """``fc1`` + GELU as one fused kernel (the head scale is folded by the attention)."""
        self._fuse_fc1()
        return self


def masked_bias(bias: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Put ``-inf`` on padded keys of a (B, H, N, N) bias (see :func:`safe_key_mask`)."""
    return bias.masked_fill(~safe_key_mask(mask)[:, None, None, :], float("-inf"))
