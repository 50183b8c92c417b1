"""LorentzParT: L-GATr's equivariant embedding and one EquiLinear in front of a Particle Transformer.

Four-momenta (plus beam spurions) become multivectors exactly as in :mod:`tagformer.models.lgatr`; one
``lgatr`` EquiLinear mixes them with the per-particle ``features`` (scalar stream) into ``mv_channels``
multivectors and ``s_channels`` scalars per particle. Their components (``16 * mv_channels +
s_channels`` numbers) are the input features of a :class:`~tagformer.models.part.ParT` (pair-feature
attention bias from ``p4``, particle and class-attention blocks). Only the first layer is equivariant:
the ParT reads multivector components directly, so the logits are not Lorentz invariant.

As an :class:`~tagformer.models.encoder.Encoder`, tokens and jet embedding are the inner ParT's
(``encode``: its last particle block, ``pool``: its class-attention blocks and final norm); the attention
probes are the ParT's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tagformer.data.batch import JetBatch
from tagformer.models.encoder import Encoder
from tagformer.models.lgatr import lorentz_multivectors
from tagformer.models.part import ParT
from tagformer.models.registry import Capabilities, register_model


@register_model(
    "lorentz_part",
    presets={
        "lorentz_part_tiny": dict(mv_channels=2, s_channels=8, embed_dims=(16, 32, 16), pair_embed_dims=(8, 8),
                                  num_heads=4, num_layers=2, num_cls_layers=1, ffn_ratio=2),
        "lorentz_part_small": dict(mv_channels=8, s_channels=32, embed_dims=(64, 256, 64),
                                   pair_embed_dims=(32, 32, 32), num_heads=8, num_layers=4, num_cls_layers=1),
        "lorentz_part": dict(mv_channels=16, s_channels=64, embed_dims=(128, 512, 128),
                             pair_embed_dims=(64, 64, 64), num_heads=8, num_layers=8, num_cls_layers=2),
    },
    capabilities=Capabilities(
        permutation_invariant=True, needs_pairs=True, needs_p4=True, onnx_exportable=True, requires=("lgatr",)
    ),
    paper="arXiv:2405.14806 (L-GATr) + arXiv:2202.03772 (ParT)",
    smallest="lorentz_part_tiny",
    default="lorentz_part",
)
class LorentzParT(Encoder):
    """ParT whose particle inputs come from an L-GATr multivector embedding and one EquiLinear."""

    legacy_head = "part.head"

    def __init__(
        self,
        in_features: int,
        mv_channels: int = 16,
        s_channels: int = 64,
        embed_dims: Sequence[int] = (128, 512, 128),
        pair_embed_dims: Sequence[int] = (64, 64, 64),
        num_heads: int = 8,
        num_layers: int = 8,
        num_cls_layers: int = 2,
        ffn_ratio: int = 4,
        dropout: float = 0.1,
        beam_spurion: str = "xyplane",
        time_spurion: bool = False,
        p4_scale: float = 100.0,
    ) -> None:
        super().__init__()
        from lgatr import PrimitivesConfig, get_spurions
        from lgatr.layers.linear import EquiLinear

        beam = None if beam_spurion == "none" else beam_spurion
        spurions = get_spurions(beam_spurion=beam, add_time_spurion=time_spurion)
        self.register_buffer("spurions", spurions, persistent=False)
        self.p4_scale = p4_scale
        self.equi = EquiLinear(
            in_mv_channels=1 + spurions.shape[0],
            out_mv_channels=mv_channels,
            primitives=PrimitivesConfig(),
            in_s_channels=in_features,
            out_s_channels=s_channels,
        )
        self.part = ParT(
            in_features=16 * mv_channels + s_channels,
            embed_dims=embed_dims,
            pair_embed_dims=pair_embed_dims,
            num_heads=num_heads,
            num_layers=num_layers,
            num_cls_layers=num_cls_layers,
            ffn_ratio=ffn_ratio,
            dropout=dropout,
        )
        self.embed_dim = self.jet_dim = self.part.embed_dim

    def part_inputs(self, batch: JetBatch) -> torch.Tensor:
        """(B, N, 16 * mv_channels + s_channels) per-particle inputs of the ParT (zero on padding)."""
        keep = batch.mask.unsqueeze(-1)
        mv = lorentz_multivectors(batch.p4, batch.mask, self.spurions, self.p4_scale)
        mv, s = self.equi(mv, scalars=batch.features.masked_fill(~keep, 0.0))
        return torch.cat([mv.flatten(-2), s], dim=-1).masked_fill(~keep, 0.0)

    def encode(self, batch: JetBatch) -> torch.Tensor:
        return self.part.encode(batch.replace(features=self.part_inputs(batch)))

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.part.pool(tokens, mask)
