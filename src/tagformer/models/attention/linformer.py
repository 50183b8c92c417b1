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
from tagformer.tracing import is_tracing


class LinformerAttention(nn.Module):
    """Multi-head self-attention against ``k`` learned mixtures of the (masked) keys/values.

    Attention probe: the inner :class:`~tagformer.models.attention.full.MultiHeadAttention` (``mha``, the
    module that computes the weights) records, under
    :func:`~tagformer.models.attention.probe.capture_attention`, weights of shape (B, H, N, k) of kind
    ``"linformer"``: every particle slot (query) over the k projected keys, all real (rows of padded
    queries are weights too; read them with the batch mask). :func:`effective_particle_weights` maps them
    onto the particles.

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
        self.mha.kind = "linformer"
        self.num_particles = num_particles
        self.proj_k = nn.Parameter(torch.randn(num_particles, k) / num_particles**0.5)
        self.proj_v = None if share_kv else nn.Parameter(torch.randn(num_particles, k) / num_particles**0.5)

    def value_projection(self, n: int) -> torch.Tensor:
        """The (n, k) projection mixing the first ``n`` particle slots into the k values."""
        return (self.proj_k if self.proj_v is None else self.proj_v)[:n]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        if not is_tracing() and n > self.num_particles:
            raise ModelError(
                f"linformer was built for at most {self.num_particles} particles but got {n}; "
                f"rebuild it with num_particles >= {n}"
            )
        q, k, v = self.mha.in_proj(x).chunk(3, dim=-1)
        keep = mask.unsqueeze(-1)
        k, v = k.masked_fill(~keep, 0.0), v.masked_fill(~keep, 0.0)
        k = torch.einsum("bnd,nk->bkd", k, self.proj_k[:n])
        v = torch.einsum("bnd,nk->bkd", v, self.value_projection(n))
        return self.mha.project_out(self.mha.attend(q, k, v, None))


def effective_particle_weights(weights: torch.Tensor, attention: LinformerAttention,
                               mask: torch.Tensor) -> torch.Tensor:
    """Particle x particle weights equivalent to a ``"linformer"`` map of ``attention``.

    Each query's output is ``sum_j w_qj v'_j`` with the projected values ``v'_j = sum_n F_nj v_n`` over real
    particles n, i.e. ``sum_n (w F^T)_qn v_n``: this returns ``w F^T`` (B, H, N, N), zero on padded keys.
    Unlike softmax weights these may be negative and need not sum to 1.

    Parameters
    ----------
    weights : (B, H, N, k) weights recorded by ``attention``.
    attention : the module that recorded them.
    mask : (B, N) real particles of the batch it ran on.
    """
    f = attention.value_projection(weights.shape[2]).to(weights.dtype)
    return torch.einsum("bhqk,nk->bhqn", weights, f) * mask[:, None, None, :].to(weights.dtype)
