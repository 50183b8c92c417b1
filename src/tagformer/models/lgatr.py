"""L-GATr tagger: Lorentz-equivariant geometric-algebra transformer (package ``lgatr``).

Each particle's four-momentum (scaled by a fixed ``p4_scale``, which commutes with Lorentz
transformations) is embedded as a multivector vector component; reference multivectors ("spurions") are
appended as extra channels of every particle. Optional per-particle ``features`` enter the scalar stream
(they are treated as invariants). Masked attention over real particles, then the scalar component of the
output multivector plus the output scalars are mean-pooled over real particles and a small MLP gives
the logits.

As an :class:`~tagformer.models.encoder.Encoder`: the tokens are those per-particle invariants
(``1 + hidden_s``); ``pool`` is the masked mean and the MLP's hidden layer (jet embedding ``hidden_s``).
The encoder runs ``LGATr``'s input layer, blocks and output layer itself (what ``LGATr.forward`` does
with this configuration) so that one :class:`LGATrAttentionProbe` per block can record the block's
attention weights (kind ``"particles"``) from the block's public submodules (``norm1``,
``attention.qkv_module``) and lgatr's public ``inner_product``, without hooks on lgatr internals.

Symmetry: with ``beam_spurion="none"`` the logits are invariant under the proper orthochronous Lorentz
group SO+(1,3) (``subgroup_primitives=True``, lgatr's default linear maps, which also mix parity-odd
components) or under the full Lorentz group including parity (``subgroup_primitives=False``).
The default beam spurion is the x-y plane bivector (``"xyplane"``) without a time spurion: it is
invariant exactly under rotations about the beam axis and boosts along it, so the logits are invariant
under that subgroup. ``time_spurion=True`` additionally breaks the boosts (only rotations about the beam
remain).
"""

from __future__ import annotations

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.probe import AttentionProbe, softmax_weights
from tagformer.models.encoder import Encoder
from tagformer.models.registry import Capabilities, register_model


def lorentz_multivectors(
    p4: torch.Tensor, mask: torch.Tensor, spurions: torch.Tensor, p4_scale: float
) -> torch.Tensor:
    """(B, N, 1 + S, 16) multivectors: the particle's (E, px, py, pz) / scale, then the spurions.

    Padded particles carry a zero four-momentum (their spurion channels are the same as everyone's).
    """
    from lgatr import embed_vector

    p4 = p4.masked_fill(~mask.unsqueeze(-1), 0.0) / p4_scale
    txyz = torch.cat([p4[..., 3:4], p4[..., 0:3]], dim=-1)  # lgatr convention (t, x, y, z)
    mv = embed_vector(txyz).unsqueeze(-2)
    b, n = mask.shape
    extra = spurions.to(p4.dtype).expand(b, n, -1, -1)
    return torch.cat([mv, extra], dim=-2)


def attention_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, N, N) boolean SDPA mask: real keys, plus each item itself (keeps padded rows finite)."""
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    return (mask[:, None, None, :] | eye).contiguous()


class LGATrAttentionProbe(AttentionProbe):
    """Records the attention weights of one ``lgatr`` ``LGATrBlock`` (it holds no parameters).

    lgatr's geometric attention is ``softmax_j(<q_i, k_j> / sqrt(d))`` with ``<., .>`` the Minkowski
    (geometric-algebra) inner product on multivector channels plus the Euclidean one on scalar channels,
    ``d`` the number of concatenated components (``lgatr.primitives.sdp_attention``); this recomputes it
    from the block's own query/key projection, only while probing.
    """

    def record(self, block: nn.Module, mv: torch.Tensor, s: torch.Tensor | None, attn_mask: torch.Tensor,
               mask: torch.Tensor) -> None:
        """Emit (B, H, N, N) weights of ``block`` on its inputs ``mv`` (B, N, C, 16), ``s`` (B, N, S)."""
        from lgatr.primitives import inner_product

        h_mv, h_s = block.norm1(mv, scalars=s)
        q_mv, k_mv, _, q_s, k_s, _ = block.attention.qkv_module(h_mv, h_s)
        basis = torch.eye(16, dtype=q_mv.dtype, device=q_mv.device)
        factors = inner_product(basis, basis)[..., 0]  # the metric sign of each component
        q, k = (q_mv * factors).flatten(-2), k_mv.flatten(-2)
        if q_s is not None:
            q, k = torch.cat([q, q_s], -1), torch.cat([k, k_s], -1)
        self.emit(softmax_weights(q, k, attn_mask), "particles", query_mask=mask, key_mask=mask)


@register_model(
    "lgatr",
    presets={
        "lgatr_small": dict(hidden_mv=4, hidden_s=8, num_heads=2, depth=1),
        "lgatr_medium": dict(hidden_mv=8, hidden_s=32, num_heads=4, depth=4),
        "lgatr_large": dict(hidden_mv=16, hidden_s=64, num_heads=8, depth=12),
    },
    capabilities=Capabilities(
        permutation_invariant=True, needs_p4=True, onnx_exportable=True, lorentz_equivariant=True,
        requires=("lgatr",),
    ),
    paper="arXiv:2405.14806",
    smallest="lgatr_small",
    default="lgatr_small",
)
class LGATrTagger(Encoder):
    """L-GATr: Lorentz-equivariant multivector transformer with beam spurions and scalar readout."""

    legacy_head = "head.net.2"
    legacy_renames = (("head.net.0.", "jet_mlp.0."),)

    def __init__(
        self,
        in_features: int,
        hidden_mv: int = 4,
        hidden_s: int = 8,
        num_heads: int = 2,
        depth: int = 1,
        beam_spurion: str = "xyplane",
        time_spurion: bool = False,
        use_features: bool = True,
        p4_scale: float = 100.0,
        subgroup_primitives: bool = True,
    ) -> None:
        super().__init__()
        from lgatr import LGATr, get_spurions

        beam = None if beam_spurion == "none" else beam_spurion  # "none" (create_model drops None overrides)
        spurions = get_spurions(beam_spurion=beam, add_time_spurion=time_spurion)
        self.register_buffer("spurions", spurions, persistent=False)
        self.p4_scale = p4_scale
        self.use_features = use_features
        in_s = in_features if use_features else 0
        self.net = LGATr(
            num_blocks=depth,
            in_mv_channels=1 + spurions.shape[0],
            out_mv_channels=1,
            hidden_mv_channels=hidden_mv,
            in_s_channels=in_s,
            out_s_channels=hidden_s,
            hidden_s_channels=hidden_s,
            attention=dict(num_heads=num_heads),
            mlp=dict(),
            primitives=dict(subgroup=subgroup_primitives),
        )
        self.attn_probes = nn.ModuleList(LGATrAttentionProbe() for _ in range(depth))
        self.jet_mlp = nn.Sequential(nn.Linear(1 + hidden_s, hidden_s), nn.GELU())
        self.embed_dim, self.jet_dim = 1 + hidden_s, hidden_s

    def encode(self, batch: JetBatch) -> torch.Tensor:
        """Per-particle invariants (B, N, 1 + hidden_s): the output multivector's scalar, the output scalars."""
        from lgatr import extract_scalar

        mask = batch.mask
        mv = lorentz_multivectors(batch.p4, mask, self.spurions, self.p4_scale)
        scalars = batch.features.masked_fill(~mask.unsqueeze(-1), 0.0) if self.use_features else None
        attn_mask = attention_mask(mask)
        mv, scalars = self.net.linear_in(mv, scalars=scalars)
        for block, probe in zip(self.net.blocks, self.attn_probes):
            if probe.probing:
                probe.record(block, mv, scalars, attn_mask, mask)
            mv, scalars = block(mv, scalars=scalars, attn_mask=attn_mask)
        out_mv, out_s = self.net.linear_out(mv, scalars=scalars)
        tokens = torch.cat([extract_scalar(out_mv[..., 0, :]), out_s], dim=-1)
        return tokens.masked_fill(~mask.unsqueeze(-1), 0.0)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(tokens.dtype)
        return self.jet_mlp((tokens * m).sum(1) / m.sum(1).clamp(min=1))
