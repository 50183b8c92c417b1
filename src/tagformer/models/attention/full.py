"""Full (exact) multi-head attention through ``torch.nn.functional.scaled_dot_product_attention``.

One module serves self-attention and cross-attention (e.g. a class token attending to the particles).
Masks are either boolean (True = may attend) or additive float biases (e.g. ParT's pair bias with
``-inf`` on padded keys); :func:`key_padding_mask` builds the usual key mask from a particle mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.models.attention.probe import AttentionProbe, softmax_weights
from tagformer.tracing import is_tracing


def safe_key_mask(mask: torch.Tensor) -> torch.Tensor:
    """Particle mask (B, N) with jets that have no real particle fully unmasked.

    An all-False key row would make softmax return NaN; such jets carry no information and their
    output is discarded by masked pooling anyway, so letting them attend to their (zeroed) padding is
    harmless and keeps every output finite.
    """
    return mask | ~mask.any(dim=1, keepdim=True)


def key_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """Boolean attention mask (B, 1, 1, N), True = key is a real particle (see :func:`safe_key_mask`)."""
    return safe_key_mask(mask)[:, None, None, :]


def additive_key_mask(bias: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Add ``-inf`` for padded keys to an additive attention ``bias`` (B, H, Nq, N)."""
    return bias.masked_fill(~key_padding_mask(mask), float("-inf"))


def _key_mask_of(attn_mask: torch.Tensor | None, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """(B, Nk) real-key mask implied by an attention mask (None = every key real)."""
    if attn_mask is None:
        return None
    allowed = attn_mask if attn_mask.dtype == torch.bool else torch.isfinite(attn_mask)
    b, nk = k.shape[0], k.shape[1]
    return allowed.expand(b, -1, -1, nk).any(dim=1).any(dim=1)


class MultiHeadAttention(AttentionProbe):
    """Multi-head attention with packed input projections (same parameters as ``nn.MultiheadAttention``).

    Under :func:`~tagformer.models.attention.probe.capture_attention` it records (B, H, Nq, Nk) weights
    of kind :attr:`kind` (``"particles"`` unless the owner sets e.g. ``"class_token"``).

    Parameters
    ----------
    dim : model width (divisible by ``num_heads``).
    num_heads : number of heads.
    dropout : attention-weight dropout (training only).
    head_scale : if True, learn one multiplicative scale per head on the output (ParT's ``c_attn``).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, head_scale: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.dropout = dropout
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        self.head_scale = nn.Parameter(torch.ones(num_heads)) if head_scale else None
        self.kind = "particles"

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, -1, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from ``query`` (B, Nq, D) to ``key_value`` (B, N, D; default: ``query``).

        ``attn_mask`` is boolean (True = attend) or additive float, broadcastable to (B, H, Nq, N).
        """
        if key_value is None:
            q, k, v = self.in_proj(query).chunk(3, dim=-1)
        else:
            q = self.project_query(query)
            k, v = self.project_key_value(key_value).chunk(2, dim=-1)
        return self.project_out(self.attend(q, k, v, attn_mask))

    def project_query(self, x: torch.Tensor) -> torch.Tensor:
        """Query projection alone (..., D) -> (..., D)."""
        return F.linear(x, self.in_proj.weight[: self.dim], self.in_proj.bias[: self.dim])

    def project_key_value(self, x: torch.Tensor) -> torch.Tensor:
        """Key and value projections (..., D) -> (..., 2D), keys first."""
        return F.linear(x, self.in_proj.weight[self.dim :], self.in_proj.bias[self.dim :])

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Scaled dot-product attention of projected (B, Nq, D) queries on (B, N, D) keys/values,
        returning the concatenated heads (B, Nq, D) before the output projection."""
        drop = self.dropout if self.training else 0.0
        qh, kh = self._split(q), self._split(k)
        if self.probing:
            self.emit(softmax_weights(qh, kh, attn_mask), self.kind, key_mask=_key_mask_of(attn_mask, q, k))
        out = F.scaled_dot_product_attention(qh, kh, self._split(v), attn_mask=attn_mask, dropout_p=drop)
        bsz, _, nq, _ = out.shape
        out = out.transpose(1, 2)
        if is_tracing():
            # a real copy keeps the view valid whatever layout the exported SDPA decomposition uses
            out = out.clone(memory_format=torch.contiguous_format)
        return out.reshape(bsz, nq, self.dim)

    def project_out(self, x: torch.Tensor) -> torch.Tensor:
        """Output projection (and per-head scale if enabled) on (..., D)."""
        if self.head_scale is None:
            return self.out_proj(x)
        return self.out_proj(x) * self.head_scale.repeat_interleave(self.head_dim)

    def for_inference(self) -> MultiHeadAttention:
        """Fold the per-head scale into the output projection (see :mod:`tagformer.models.inference`)."""
        if self.head_scale is not None:
            with torch.no_grad():
                scale = self.head_scale.repeat_interleave(self.head_dim)
                folded = nn.Linear(self.dim, self.dim, device="meta")
                folded.weight = nn.Parameter(self.out_proj.weight * scale[:, None], requires_grad=False)
                folded.bias = nn.Parameter(self.out_proj.bias * scale, requires_grad=False)
            self.out_proj = folded
            self.head_scale = None
        return self
