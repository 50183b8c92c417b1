"""Particle Transformer (ParT, arXiv:2202.03772) with padding-free eager execution.

Same architecture and parameters as weaver-core's ``ParticleTransformer`` (version 1): particle embed
(BatchNorm, then LayerNorm+Linear+GELU per width), pair features (ln ΔR, ln kT, ln z, ln m²) embedded by
pointwise layers with BatchNorm to one attention bias per head, particle blocks (pre-LN attention with
per-head scale, post-attention LN, FFN with inner LN, learned residual scale) and class-attention blocks.

Execution differs, not the math: in eager mode (:meth:`ParT.forward_eager`) trailing all-padding slots
are dropped and per-particle layers run on the real particles only (token packing), pair features and
their embedding are computed once per unordered pair of real particles, BatchNorms are folded into the
adjacent linear layers at inference, linear(+GELU) run as fused CPU kernels at inference
(:mod:`~tagformer.models.layers.fused`), and the pair bias (with ``-inf`` on padded keys) is built once
and shared by all blocks. Under ``torch.export``/ONNX export the dense path (:meth:`ParT.forward_dense`)
is used; all paths agree to float precision. In training (eager path) every BatchNorm takes its
statistics over real particles / real pairs only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.layers.packing import Packing
from tagformer.models.layers.pairs import (
    PAIR_FEATURES,
    pair_features,
    pair_features_between,
    particle_quantities,
    real_pair_index,
)
from tagformer.models.part_blocks import (
    PairEmbed,
    ParTBlock,
    ParTClassBlock,
    ParTEmbed,
    is_exporting,
    masked_bias,
)
from tagformer.models.registry import Capabilities, register_model


@register_model(
    "part",
    presets={
        "part_tiny": dict(embed_dims=(16, 32, 16), pair_embed_dims=(8, 8), num_heads=4, num_layers=2,
                          num_cls_layers=1, ffn_ratio=2),
        "part_small": dict(embed_dims=(64, 256, 64), pair_embed_dims=(32, 32, 32), num_heads=8,
                           num_layers=4, num_cls_layers=1),
        "part": dict(embed_dims=(128, 512, 128), pair_embed_dims=(64, 64, 64), num_heads=8, num_layers=8,
                     num_cls_layers=2),
    },
    capabilities=Capabilities(permutation_invariant=True, needs_pairs=True, needs_p4=True),
    paper="arXiv:2202.03772",
    smallest="part_tiny",
)
class ParT(nn.Module):
    """Particle Transformer: pair-biased attention over particles, then class-attention pooling.

    Parameters
    ----------
    num_classes, in_features : output classes and per-particle input features.
    embed_dims : widths of the particle embedding (the last is the model width).
    pair_embed_dims : hidden widths of the pair-feature MLP (its output is one bias per head).
    num_heads, num_layers, num_cls_layers : heads, particle blocks, class-attention blocks.
    ffn_ratio : FFN width as a multiple of the model width.
    dropout : dropout in the particle blocks (class blocks use none, as in the reference).
    eps : clamp of logarithm arguments in the pair features (see :mod:`~tagformer.models.layers.pairs`).
    """

    def __init__(
        self,
        num_classes: int,
        in_features: int,
        embed_dims: Sequence[int] = (128, 512, 128),
        pair_embed_dims: Sequence[int] = (64, 64, 64),
        num_heads: int = 8,
        num_layers: int = 8,
        num_cls_layers: int = 2,
        ffn_ratio: int = 4,
        dropout: float = 0.1,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        dim = embed_dims[-1]
        self.eps = eps
        self.embed = ParTEmbed(in_features, embed_dims)
        self.pair_embed = PairEmbed(len(PAIR_FEATURES), pair_embed_dims, num_heads)
        self.blocks = nn.ModuleList(ParTBlock(dim, num_heads, ffn_ratio, dropout) for _ in range(num_layers))
        self.cls_blocks = nn.ModuleList(ParTClassBlock(dim, num_heads, ffn_ratio) for _ in range(num_cls_layers))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        with torch.no_grad():
            for k, block in enumerate(self.blocks, start=1):
                block.attn.out_proj.weight.div_(math.sqrt(2.0 * k))
                block.fc2.weight.div_(math.sqrt(2.0 * k))

    def pair_bias_packed(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, N, N) bias from the unordered pairs of real particles only; -inf on padded keys."""
        b, n = mask.shape
        heads = self.pair_embed.linears[-1].out_features
        q = particle_quantities(p4, mask, self.eps)
        bi, i, j = real_pair_index(mask)
        values = self.pair_embed(pair_features_between(q[bi, i], q[bi, j], self.eps))  # (P, H)
        offsets = torch.arange(heads, device=p4.device) * (n * n)
        base = bi * (heads * n * n)
        bias = p4.new_zeros(b * heads * n * n)
        for rows, cols in ((i, j), (j, i)):
            index = (base + rows * n + cols)[:, None] + offsets
            bias.index_put_((index.reshape(-1),), values.reshape(-1))
        return masked_bias(bias.view(b, heads, n, n), mask)

    def pair_bias_dense(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, N, N) bias from all ordered pairs (export path); -inf on padded keys."""
        bias = self.pair_embed(pair_features(p4, mask, self.eps)).permute(0, 3, 1, 2)
        return masked_bias(bias, mask)

    def _pool(self, x: torch.Tensor, mask: torch.Tensor, packing: Packing | None) -> torch.Tensor:
        cls = self.cls_token.expand(mask.shape[0], -1, -1)
        for block in self.cls_blocks:
            cls = block(cls, x, mask, packing)
        return self.head(self.norm(cls[:, 0]))

    def forward(self, batch: JetBatch) -> torch.Tensor:
        if is_exporting():
            return self.forward_dense(batch)
        return self.forward_eager(batch)

    def forward_eager(self, batch: JetBatch, min_padding: float = 0.1) -> torch.Tensor:
        """Default eager path: drop trailing slots that are padding in every jet, then pack the real
        particles (:meth:`forward_packed`) if at least ``min_padding`` of the slots are padding, else run
        the dense layers with the real-pair bias. Same result as :meth:`forward_dense`."""
        mask = batch.mask
        slots = torch.arange(1, mask.shape[1] + 1, device=mask.device)
        n = max(int((mask * slots).amax()), 1)
        batch = JetBatch(features=batch.features[:, :n], p4=batch.p4[:, :n], mask=mask[:, :n])
        if float(batch.mask.float().mean()) <= 1.0 - min_padding:
            return self.forward_packed(batch)
        keep = batch.mask.unsqueeze(-1)
        x = self.embed(batch.features.masked_fill(~keep, 0.0), batch.mask).masked_fill(~keep, 0.0)
        bias = self.pair_bias_packed(batch.p4, batch.mask)
        for block in self.blocks:
            x = block(x, bias)
        return self._pool(x.masked_fill(~keep, 0.0), batch.mask, None)

    def forward_bucketed(self, batch: JetBatch, bucket: int = 32) -> torch.Tensor:
        """Alternative eager path: jets sorted by their last real slot, processed in groups of ``bucket``
        jets, each cut to its own longest jet (measured slower than packing on 2 CPU threads)."""
        mask = batch.mask
        slots = torch.arange(1, mask.shape[1] + 1, device=mask.device)
        length = (mask * slots).amax(dim=1)
        order = torch.argsort(length, stable=True)
        outputs = []
        for group in order.split(bucket):
            n = max(int(length[group].max()), 1)
            sub = mask[group, :n]
            keep = sub.unsqueeze(-1)
            x = self.embed(batch.features[group, :n].masked_fill(~keep, 0.0), sub).masked_fill(~keep, 0.0)
            bias = self.pair_bias_packed(batch.p4[group, :n], sub)
            for block in self.blocks:
                x = block(x, bias)
            outputs.append(self._pool(x.masked_fill(~keep, 0.0), sub, None))
        return torch.cat(outputs)[torch.argsort(order)]

    def forward_packed(self, batch: JetBatch) -> torch.Tensor:
        """Eager path with token packing: per-particle layers on real particles only, pair work on real
        pairs only; attention in the padded layout. Same result as :meth:`forward_dense`."""
        mask = batch.mask
        packing = Packing.from_mask(mask)
        x = self.embed(packing.pack(batch.features))
        bias = self.pair_bias_packed(batch.p4, mask)
        for block in self.blocks:
            x = block(x, bias, packing)
        return self._pool(x, mask, packing)

    def forward_dense(self, batch: JetBatch) -> torch.Tensor:
        """Padded path without data-dependent shapes (used for export; same result as eager)."""
        mask = batch.mask
        keep = mask.unsqueeze(-1)
        x = self.embed(batch.features.masked_fill(~keep, 0.0)).masked_fill(~keep, 0.0)
        bias = self.pair_bias_dense(batch.p4, mask)
        for block in self.blocks:
            x = block(x, bias)
        return self._pool(x.masked_fill(~keep, 0.0), mask, None)
