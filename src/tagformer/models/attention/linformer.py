"""Linformer attention (arXiv:2006.04768): keys and values projected along the particle axis to k rows.

The learned (num_particles, k) projections make the layer depend on particle order (not permutation
invariant). Padded particles contribute nothing: their keys and values are zeroed after the linear
projections and before the sequence projection. Inputs with fewer than ``num_particles`` slots use the
first rows of the projections, so extra padded slots never change the output.
"""

from __future__ import annotations

import torch
from torch import nn

from tagformer.errors import ModelError
from tagformer.models.attention.full import MultiHeadAttention


class LinformerAttention(nn.Module):
    """Multi-head self-attention against ``k`` learned mixtures of the (masked) keys/values.

    Parameters
    ----------
    dim, num_heads : width and heads.
    num_particles : largest number of particle slots the layer accepts.
    k : number of projected keys/values.
    share_kv : use one projection for keys and values.
    dropout : attention-weight dropout.
    """

    def __init__(
        self, dim: int, num_heads: int, num_particles: int, k: int, share_kv: bool = False, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.mha = MultiHeadAttention(dim, num_heads, dropout=dropout)
        self.num_particles = num_particles
        self.proj_k = nn.Parameter(torch.randn(num_particles, k) / num_particles**0.5)
        self.proj_v = None if share_kv else nn.Parameter(torch.randn(num_particles, k) / num_particles**0.5)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        if not torch.compiler.is_exporting() and n > self.num_particles:
            raise ModelError(
                f"linformer was built for at most {self.num_particles} particles but got {n}; "
                f"rebuild it with num_particles >= {n}"
            )
        q, k, v = self.mha.in_proj(x).chunk(3, dim=-1)
        keep = mask.unsqueeze(-1)
        k, v = k.masked_fill(~keep, 0.0), v.masked_fill(~keep, 0.0)
        e = self.proj_k[:n]
        f = e if self.proj_v is None else self.proj_v[:n]
        k = torch.einsum("bnd,nk->bkd", k, e)
        v = torch.einsum("bnd,nk->bkd", v, f)
        return self.mha.project_out(self.mha.attend(q, k, v, None))
