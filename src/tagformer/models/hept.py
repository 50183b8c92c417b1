"""HEPT-style transformer: LSH-blocked RBF attention on feature + (eta, phi) distance (arXiv:2402.12535).

Pre-norm blocks of :class:`~tagformer.models.attention.lsh.LSHAttention` and a feed-forward network,
masked pooling and a dense layer. Coordinates are (eta - <eta>, phi - phi_jet) from ``p4``; ``features``
feed the embedding. Near-linear in the number of particles.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.lsh import LSHAttention
from tagformer.models.encoder import Encoder
from tagformer.models.layers import MLP, MaskedPool, masked_fill_padding
from tagformer.models.layers.grid import jet_coordinates
from tagformer.models.layers.trim import trim_trailing_padding
from tagformer.models.registry import Capabilities, register_model


def centred_coordinates(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(eta - mean eta, phi - phi_jet) of each particle (B, N, 2); padded particles get (0, 0)."""
    coords = jet_coordinates(p4, mask)
    m = mask.unsqueeze(-1).to(coords.dtype)
    mean_eta = (coords[..., :1] * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1)
    shift = torch.cat([mean_eta, torch.zeros_like(mean_eta)], dim=-1)
    return (coords - shift).masked_fill(~mask.unsqueeze(-1), 0.0)


class HEPTBlock(nn.Module):
    """``x + LSHAttention(LN(x))``, then ``x + FFN(LN(x))``."""

    def __init__(
        self, dim: int, num_heads: int, ffn_dim: int, block_size: int, num_tables: int,
        regions: tuple[int, int], seed: int,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = LSHAttention(dim, num_heads, block_size, num_tables, regions, seed)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = MLP([dim, ffn_dim, dim])

    def forward(self, x: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), coords, mask)
        x = x + self.ffn(self.norm2(x))
        return x.masked_fill(~mask.unsqueeze(-1), 0.0)


@register_model(
    "hept",
    presets={
        "hept_small": dict(dim=16, num_heads=4, ffn_dim=32, depth=1, block_size=16, num_tables=2),
        "hept_medium": dict(dim=64, num_heads=4, ffn_dim=128, depth=3, block_size=32, num_tables=2),
        "hept_large": dict(dim=128, num_heads=8, ffn_dim=256, depth=4, block_size=64, num_tables=3),
    },
    capabilities=Capabilities(permutation_invariant=True, needs_p4=True, onnx_exportable=True),
    paper="arXiv:2402.12535",
    smallest="hept_small",
    default="hept_small",
)
class HEPT(Encoder):
    """HEPT-style encoder: E2LSH-sorted blocks of exact RBF attention (OR tables, AND eta-phi regions).

    Tokens are the last block's outputs after the final (per-particle) LayerNorm, in the batch's particle
    order (the attention sorts internally and un-sorts). ``pool`` is the masked pooling followed by the
    dense layer and its GELU (``head``; the pre-split output layer after it is the classification head):
    the embedding has ``dim`` features. Attention maps: kind ``"lsh_blocks"``, one per hash table and
    block (see :class:`~tagformer.models.attention.lsh.LSHAttention` for the layout).

    Parameters
    ----------
    in_features : per-particle input features.
    dim, num_heads, ffn_dim, depth : width, heads, feed-forward width and number of blocks.
    block_size : particles per attention block after sorting.
    num_tables : hash tables (OR construction); their outputs are averaged.
    regions : (eta, phi) equal-count regions (AND construction).
    pool : masked pooling, ``"mean"``, ``"max"``, ``"sum"`` or ``"meanmax"``.
    seed : seed of the fixed random hash projections (block i uses ``seed + i``).
    """

    legacy_head = "head.net.2"

    def __init__(
        self,
        in_features: int,
        dim: int = 16,
        num_heads: int = 4,
        ffn_dim: int = 32,
        depth: int = 1,
        block_size: int = 16,
        num_tables: int = 2,
        regions: tuple[int, int] = (2, 2),
        pool: str = "mean",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.embed = MLP([in_features, dim, dim])
        self.blocks = nn.ModuleList(
            HEPTBlock(dim, num_heads, ffn_dim, block_size, num_tables, tuple(regions), seed + i)
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.masked_pool = MaskedPool(pool)
        self.head = MLP([self.masked_pool.out_dim(dim), dim])  # the pre-split head MLP minus its last layer
        self.head.net.append(nn.GELU())
        self.embed_dim = self.jet_dim = dim

    def encode(self, batch: JetBatch) -> torch.Tensor:
        trimmed = trim_trailing_padding(batch)
        mask = trimmed.mask
        coords = centred_coordinates(trimmed.p4, mask)
        x = self.embed(trimmed.features).masked_fill(~mask.unsqueeze(-1), 0.0)
        for block in self.blocks:
            x = block(x, coords, mask)
        tokens = masked_fill_padding(self.norm(x), mask)
        if trimmed is not batch:  # give the trimmed trailing slots back, as zeros
            tokens = F.pad(tokens, (0, 0, 0, batch.mask.shape[1] - tokens.shape[1]))
        return tokens

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.masked_pool(tokens, mask))
