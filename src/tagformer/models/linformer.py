"""Linformer encoder for jets (low-rank attention along the particle axis)."""

from __future__ import annotations

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.linformer import LinformerAttention
from tagformer.models.encoder import Encoder
from tagformer.models.layers.mlp import MLP
from tagformer.models.layers.norm import make_norm
from tagformer.models.layers.pooling import MaskedPool, masked_fill_padding
from tagformer.models.registry import Capabilities, register_model


class LinformerBlock(nn.Module):
    """Pre-norm block: ``x + LinformerAttention(norm(x))`` then ``x + FFN(norm(x))``."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, num_particles: int, k: int,
                 share_kv: bool, norm: str, dropout: float) -> None:
        super().__init__()
        self.norm1 = make_norm(norm, dim)
        self.attn = LinformerAttention(dim, num_heads, num_particles, k, share_kv, dropout)
        self.norm2 = make_norm(norm, dim)
        self.ffn = MLP([dim, ffn_dim, dim], activation="gelu")

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask)
        return x + self.ffn(self.norm2(x))


@register_model(
    "linformer",
    presets={
        "linformer_tiny": dict(dim=16, num_heads=4, ffn_dim=16, num_layers=1, k=4),
        "linformer_small": dict(dim=32, num_heads=4, ffn_dim=64, num_layers=3, k=8),
        "linformer": dict(dim=64, num_heads=8, ffn_dim=256, num_layers=4, k=16),
    },
    capabilities=Capabilities(permutation_invariant=False, order_dependent="pt"),
    paper="arXiv:2006.04768",
    smallest="linformer_tiny",
)
class Linformer(Encoder):
    """Linformer encoder: learned (num_particles, k) key/value projections, masked max/mean pooling.

    Not permutation invariant: the projections weight particle slots by position, so the input order
    (default expectation: pT-ordered) matters. Padded particles are zeroed before the projection and
    never change the output; inputs with fewer than ``num_particles`` slots use the first rows.

    Tokens are the last block's outputs after the final (per-particle) norm; ``pool`` is the masked
    max/mean, so the embedding has ``dim`` features. Attention maps: kind ``"linformer"``, (B, H, N, k)
    (see :class:`~tagformer.models.attention.linformer.LinformerAttention`).

    Parameters
    ----------
    in_features, num_particles : from the data (``num_particles`` = largest N accepted).
    dim, num_heads, ffn_dim, num_layers : encoder shape.
    k : projected sequence length.
    share_kv : one projection for keys and values.
    pooling : ``"max"`` or ``"mean"``.
    norm : ``"layer"`` or ``"dyt"``.
    dropout : attention-weight dropout.
    """

    def __init__(
        self,
        in_features: int,
        num_particles: int,
        dim: int = 64,
        num_heads: int = 8,
        ffn_dim: int = 256,
        num_layers: int = 4,
        k: int = 16,
        share_kv: bool = False,
        pooling: str = "max",
        norm: str = "layer",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(in_features, dim)
        self.blocks = nn.ModuleList(
            LinformerBlock(dim, num_heads, ffn_dim, num_particles, k, share_kv, norm, dropout)
            for _ in range(num_layers)
        )
        self.norm = make_norm(norm, dim)
        self.masked_pool = MaskedPool(pooling)
        self.embed_dim = self.jet_dim = dim

    def encode(self, batch: JetBatch) -> torch.Tensor:
        mask = batch.mask
        x = self.embed(masked_fill_padding(batch.features, mask))
        for block in self.blocks:
            x = block(x, mask)
        return masked_fill_padding(self.norm(x), mask)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.masked_pool(tokens, mask)
