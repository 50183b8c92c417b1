"""Plain pre-LN transformer encoder over particles (the full-attention reference of the zoo)."""

from __future__ import annotations

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.full import MultiHeadAttention, key_padding_mask
from tagformer.models.encoder import Encoder
from tagformer.models.layers.mlp import MLP
from tagformer.models.layers.norm import make_norm
from tagformer.models.layers.pooling import MaskedPool, masked_fill_padding
from tagformer.models.registry import Capabilities, register_model


class EncoderBlock(nn.Module):
    """Pre-norm block: ``x + MHA(norm(x))`` then ``x + FFN(norm(x))``.

    Parameters
    ----------
    dim, num_heads : width and heads of the attention.
    ffn_dim : hidden width of the feed-forward network.
    dropout : dropout on attention weights and residual branches (training only).
    norm : ``"layer"`` or ``"dyt"``.
    """

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.0, norm: str = "layer"):
        super().__init__()
        self.norm1 = make_norm(norm, dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout=dropout)
        self.norm2 = make_norm(norm, dim)
        self.ffn = MLP([dim, ffn_dim, dim], activation="gelu")
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), attn_mask=attn_mask))
        return x + self.drop(self.ffn(self.norm2(x)))


class ClassAttentionBlock(EncoderBlock):
    """Pre-norm block updating a class token that attends to ``[cls, particles]`` (same layers as
    :class:`EncoderBlock`, different query)."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.0, norm: str = "layer"):
        super().__init__(dim, num_heads, ffn_dim, dropout, norm)
        self.attn.kind = "class_token"

    def forward(self, cls: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        u = self.norm1(torch.cat([cls, x], dim=1))
        keys = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        cls = cls + self.drop(self.attn(u[:, :1], u, attn_mask=key_padding_mask(keys)))
        return cls + self.drop(self.ffn(self.norm2(cls)))


@register_model(
    "transformer",
    presets={
        "transformer_tiny": dict(dim=16, num_heads=4, ffn_dim=16, num_layers=3, pooling="max"),
        "transformer_small": dict(dim=32, num_heads=4, ffn_dim=64, num_layers=3, pooling="max"),
        "transformer": dict(dim=64, num_heads=8, ffn_dim=256, num_layers=4, pooling="cls"),
        "transformer_base": dict(dim=128, num_heads=8, ffn_dim=512, num_layers=6, pooling="cls"),
    },
    capabilities=Capabilities(permutation_invariant=True),
    paper="arXiv:1706.03762",
    smallest="transformer_tiny",
)
class Transformer(Encoder):
    """Pre-LN transformer encoder with full masked attention and max/mean/class-token pooling.

    Tokens are the last block's outputs; ``pool`` is the masked max/mean (or one class-attention block)
    followed by the final norm, so the embedding has ``dim`` features.

    Parameters
    ----------
    in_features : per-particle input features.
    dim, num_heads, ffn_dim, num_layers : encoder width, heads, FFN width, depth.
    pooling : ``"max"``, ``"mean"`` (masked) or ``"cls"`` (one class-attention block).
    dropout : dropout in attention and residual branches.
    norm : ``"layer"`` (LayerNorm) or ``"dyt"`` (Dynamic Tanh).
    """

    def __init__(
        self,
        in_features: int,
        dim: int = 64,
        num_heads: int = 8,
        ffn_dim: int = 256,
        num_layers: int = 4,
        pooling: str = "max",
        dropout: float = 0.0,
        norm: str = "layer",
    ) -> None:
        super().__init__()
        if pooling not in ("max", "mean", "cls"):
            raise ValueError(f"unknown pooling {pooling!r}; choose from max, mean, cls")
        self.embed = nn.Linear(in_features, dim)
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, num_heads, ffn_dim, dropout, norm) for _ in range(num_layers)
        )
        self.pooling = pooling
        if pooling == "cls":
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
            self.cls_block = ClassAttentionBlock(dim, num_heads, ffn_dim, dropout, norm)
        else:
            self.masked_pool = MaskedPool(pooling)
        self.norm = make_norm(norm, dim)
        self.embed_dim = self.jet_dim = dim

    def encode(self, batch: JetBatch) -> torch.Tensor:
        mask = batch.mask
        x = self.embed(masked_fill_padding(batch.features, mask))
        attn_mask = key_padding_mask(mask)
        for block in self.blocks:
            x = block(x, attn_mask)
        return masked_fill_padding(x, mask)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            cls = self.cls_token.expand(tokens.shape[0], -1, -1)
            pooled = self.cls_block(cls, tokens, mask)[:, 0]
        else:
            pooled = self.masked_pool(tokens, mask)
        return self.norm(pooled)
