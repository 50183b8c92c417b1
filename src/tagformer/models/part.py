"""Particle Transformer (ParT, arXiv:2202.03772) with padding-free eager execution.

Same architecture and parameters as weaver-core's ``ParticleTransformer`` (version 1): particle embed
(BatchNorm, then LayerNorm+Linear+GELU per width), pair features (ln ΔR, ln kT, ln z, ln m²) embedded by
pointwise layers with BatchNorm to one attention bias per head, particle blocks (pre-LN attention with
per-head scale, post-attention LN, FFN with inner LN, learned residual scale) and class-attention blocks.

As an :class:`~tagformer.models.encoder.Encoder`: ``encode`` returns the last particle block's outputs
(B, N, D); ``pool`` runs the class-attention blocks and the final LayerNorm (the jet embedding, D).

Execution differs, not the math: in eager mode (:meth:`ParT.encode_eager`) trailing all-padding slots
are dropped and per-particle layers run on the real particles only (token packing), pair features and
their embedding are computed once per unordered pair of real particles, and the pair bias (with
``-inf`` on padded keys) is built once and shared by all blocks. Under ``torch.export``/ONNX export the
dense path (:meth:`ParT.encode_dense`) is used; all paths agree to float precision. In training (eager
path) every BatchNorm takes its statistics over real particles / real pairs only. The training graph is
plain modules; BatchNorms folded into the pair embedding, the head scale folded into the attention
output and fused linear(+GELU) CPU kernels come from :func:`tagformer.models.inference.prepare_for_inference`.

Attention probes: every particle block records kind ``"particles"`` (B, H, N, N) with the real keys,
every class-attention block ``"class_token"`` (B, H, 1, 1 + N) over ``[cls, particles]``. While probing,
no slot is dropped, so N is the batch's particle axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.encoder import Encoder
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
    masked_bias,
)
from tagformer.models.registry import Capabilities, register_model
from tagformer.tracing import is_tracing

#: eager paths pack the real particles when at least this fraction of the (kept) slots is padding
MIN_PADDING = 0.1


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
class ParT(Encoder):
    """Particle Transformer: pair-biased attention over particles, then class-attention pooling.

    Parameters
    ----------
    in_features : per-particle input features.
    embed_dims : widths of the particle embedding (the last is the model width).
    pair_embed_dims : hidden widths of the pair-feature MLP (its output is one bias per head).
    num_heads, num_layers, num_cls_layers : heads, particle blocks, class-attention blocks.
    ffn_ratio : FFN width as a multiple of the model width.
    dropout : dropout in the particle blocks (class blocks use none, as in the reference).
    eps : clamp of logarithm arguments in the pair features (see :mod:`~tagformer.models.layers.pairs`).
    """

    def __init__(
        self,
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
        self.num_heads = num_heads
        self.embed = ParTEmbed(in_features, embed_dims)
        self.pair_embed = PairEmbed(len(PAIR_FEATURES), pair_embed_dims, num_heads)
        self.blocks = nn.ModuleList(ParTBlock(dim, num_heads, ffn_ratio, dropout) for _ in range(num_layers))
        self.cls_blocks = nn.ModuleList(ParTClassBlock(dim, num_heads, ffn_ratio) for _ in range(num_cls_layers))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.embed_dim = self.jet_dim = dim
        with torch.no_grad():
            for k, block in enumerate(self.blocks, start=1):
                block.attn.out_proj.weight.div_(math.sqrt(2.0 * k))
                block.fc2.weight.div_(math.sqrt(2.0 * k))

    def pair_bias_packed(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, N, N) bias from the unordered pairs of real particles only; -inf on padded keys."""
        b, n = mask.shape
        heads = self.num_heads
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

    def _probing(self) -> bool:
        return any(block.attn.probing for block in self.blocks) or any(b.attn.probing for b in self.cls_blocks)

    def _used_slots(self, mask: torch.Tensor) -> int:
        """Slots up to the last one real in some jet (all of them while probing: maps span the batch's N)."""
        if self._probing():
            return mask.shape[1]
        slots = torch.arange(1, mask.shape[1] + 1, device=mask.device)
        return max(int((mask * slots).amax()), 1)

    def encode(self, batch: JetBatch) -> torch.Tensor:
        if is_tracing():
            return self.encode_dense(batch)
        return self.encode_eager(batch)

    def encode_eager(self, batch: JetBatch, min_padding: float = MIN_PADDING) -> torch.Tensor:
        """Default eager path: drop trailing slots that are padding in every jet, then pack the real
        particles (:meth:`encode_packed`) if at least ``min_padding`` of the slots are padding, else run
        the dense layers with the real-pair bias. Same result as :meth:`encode_dense`."""
        full = batch.mask.shape[1]
        n = self._used_slots(batch.mask)
        if n < full:
            batch = JetBatch(features=batch.features[:, :n], p4=batch.p4[:, :n], mask=batch.mask[:, :n])
        if float(batch.mask.float().mean()) <= 1.0 - min_padding:
            x = self.encode_packed(batch)
        else:
            keep = batch.mask.unsqueeze(-1)
            x = self.embed(batch.features.masked_fill(~keep, 0.0), batch.mask).masked_fill(~keep, 0.0)
            bias = self.pair_bias_packed(batch.p4, batch.mask)
            for block in self.blocks:
                x = block(x, bias)
            x = x.masked_fill(~keep, 0.0)
        return F.pad(x, (0, 0, 0, full - n)) if n < full else x

    def encode_packed(self, batch: JetBatch) -> torch.Tensor:
        """Eager path with token packing: per-particle layers on real particles only, pair work on real
        pairs only; attention in the padded layout. Same result as :meth:`encode_dense`."""
        mask = batch.mask
        packing = Packing.from_mask(mask)
        x = self.embed(packing.pack(batch.features))
        bias = self.pair_bias_packed(batch.p4, mask)
        for block in self.blocks:
            x = block(x, bias, packing)
        return packing.unpack(x)

    def encode_dense(self, batch: JetBatch) -> torch.Tensor:
        """Padded path without data-dependent shapes (used for export; same result as eager)."""
        mask = batch.mask
        keep = mask.unsqueeze(-1)
        x = self.embed(batch.features.masked_fill(~keep, 0.0)).masked_fill(~keep, 0.0)
        bias = self.pair_bias_dense(batch.p4, mask)
        for block in self.blocks:
            x = block(x, bias)
        return x.masked_fill(~keep, 0.0)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Class-attention blocks over the tokens, then the final LayerNorm -> (B, D). In eager mode the
        class blocks read the real tokens only (trailing padding dropped, packed if enough padding)."""
        packing = None
        if not is_tracing():
            n = self._used_slots(mask)
            tokens, mask = tokens[:, :n], mask[:, :n]
            if float(mask.float().mean()) <= 1.0 - MIN_PADDING:
                packing = Packing.from_mask(mask)
                tokens = packing.pack(tokens)
        cls = self.cls_token.expand(mask.shape[0], -1, -1)
        for block in self.cls_blocks:
            cls = block(cls, tokens, mask, packing)
        return self.norm(cls[:, 0])
