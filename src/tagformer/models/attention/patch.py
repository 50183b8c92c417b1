"""PHAT-JeT hierarchical patch attention: exact attention inside patches, then attention between patches.

The sequence is cut into non-overlapping patches of ``P`` consecutive particles (zero-padded to a
multiple of ``P``). :class:`PatchAttention` runs full multi-head attention inside each patch;
:class:`PatchTokenAttention` pools each patch to one token (masked mean or max over real particles),
runs multi-head attention over the patch tokens and broadcasts each token's output back to its particles.
Cost is ``N * P`` for the first and ``(N / P)^2`` for the second.

Masking: padded particles (and patches without real particles) are never attended to. A padded query
whose patch holds no real particle may still attend to itself, so its (discarded) output stays finite.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_patches(x: torch.Tensor, mask: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (B, N, D) and (B, N) along N with zeros / False to a multiple of ``patch_size``."""
    n = x.shape[1]
    extra = (patch_size - n % patch_size) % patch_size
    return F.pad(x, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """SDPA over (..., L, dh) with boolean ``key_mask`` (..., L) plus the diagonal (self is always allowed)."""
    length = q.shape[-2]
    eye = torch.eye(length, dtype=torch.bool, device=q.device)
    allowed = key_mask.unsqueeze(-2) | eye  # (..., L, L)
    # An additive float mask: on CPU the fused kernel is markedly slower with boolean masks of tiny blocks.
    bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, float("-inf"))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


class _Heads(nn.Module):
    """Q, K, V and output projections of one multi-head attention."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """``x`` (G, L, D), ``key_mask`` (G, L) -> (G, L, D)."""
        g, length, d = x.shape
        q, k, v = self.qkv(x).view(g, length, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = _attend(q, k, v, key_mask.unsqueeze(1))  # (G, H, L, dh)
        return self.out(y.transpose(1, 2).reshape(g, length, d))


class PatchAttention(nn.Module):
    """Exact multi-head attention inside non-overlapping patches of ``patch_size`` consecutive particles."""

    def __init__(self, dim: int, num_heads: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.heads = _Heads(dim, num_heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, D), ``mask`` (B, N) -> (B, N, D)."""
        b, n, d = x.shape
        xp, mp = pad_to_patches(x, mask, self.patch_size)
        y = self.heads(xp.reshape(-1, self.patch_size, d), mp.reshape(-1, self.patch_size))
        return y.reshape(b, -1, d)[:, :n]


class PatchTokenAttention(nn.Module):
    """One token per patch (masked mean or max), attention over tokens, broadcast back (then a dense)."""

    def __init__(self, dim: int, num_heads: int, patch_size: int, pool: str = "mean") -> None:
        super().__init__()
        if pool not in ("mean", "max"):
            raise ValueError(f"unknown patch pooling {pool!r}; choose mean or max")
        self.patch_size = patch_size
        self.pool = pool
        self.heads = _Heads(dim, num_heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, D), ``mask`` (B, N) -> message (B, N, D) to add to ``x``."""
        b, n, d = x.shape
        xp, mp = pad_to_patches(x, mask, self.patch_size)
        xp = xp.reshape(b, -1, self.patch_size, d)
        mp = mp.reshape(b, -1, self.patch_size)
        m = mp.unsqueeze(-1)
        if self.pool == "mean":
            tokens = (xp * m).sum(2) / m.sum(2).clamp(min=1).to(x.dtype)
        else:
            tokens = xp.masked_fill(~m, torch.finfo(x.dtype).min).amax(2)
            tokens = tokens.masked_fill(~m.any(2), 0.0)
        msg = self.proj(self.heads(tokens, mp.any(-1)))  # (B, NP, D)
        msg = msg.unsqueeze(2).expand(-1, -1, self.patch_size, -1).reshape(b, -1, d)
        return msg[:, :n]


class PatchLayout:
    """Index bookkeeping to run patch attention on packed real particles (eager path).

    Real particles (``mask`` True) are packed into (R, D) in (jet, position) order. Only patches holding
    at least one real particle are materialised: ``slot`` places each real particle into a (G * P) grid
    of occupied patches, ``patch`` gives its occupied-patch id, ``token_index`` places each occupied patch
    into a (B * patches_per_jet) layout for the patch-token attention.
    """

    def __init__(self, mask: torch.Tensor, patch_size: int) -> None:
        b, n = mask.shape
        per_jet = -(-n // patch_size)
        self.real = mask.reshape(-1).nonzero().squeeze(1)
        jet, pos = self.real // n, self.real % n
        key = jet * per_jet + pos // patch_size  # non-decreasing along ``real``
        first = torch.ones_like(key, dtype=torch.bool)
        first[1:] = key[1:] != key[:-1]
        self.patch = torch.cumsum(first, 0) - 1
        self.num_patches = int(self.patch[-1]) + 1 if key.numel() else 0
        self.slot = self.patch * patch_size + pos % patch_size
        self.token_index = key[first]  # (G,)
        self.batch, self.per_jet, self.patch_size = b, per_jet, patch_size
        self.occupied = torch.zeros(self.num_patches * patch_size, dtype=torch.bool, device=mask.device)
        self.occupied[self.slot] = True

    def to_patches(self, xr: torch.Tensor) -> torch.Tensor:
        """(R, D) -> (G, P, D), zeros in empty slots."""
        out = xr.new_zeros(self.num_patches * self.patch_size, xr.shape[-1]).index_copy_(0, self.slot, xr)
        return out.view(self.num_patches, self.patch_size, xr.shape[-1])

    def from_patches(self, xp: torch.Tensor) -> torch.Tensor:
        """(G, P, D) -> (R, D)."""
        return xp.reshape(-1, xp.shape[-1]).index_select(0, self.slot)


def patch_attention_packed(module: PatchAttention, xr: torch.Tensor, layout: PatchLayout) -> torch.Tensor:
    """:class:`PatchAttention` on packed real particles (R, D); same result as the padded forward."""
    y = module.heads(layout.to_patches(xr), layout.occupied.view(layout.num_patches, layout.patch_size))
    return layout.from_patches(y)


def token_attention_packed(module: PatchTokenAttention, xr: torch.Tensor, layout: PatchLayout) -> torch.Tensor:
    """:class:`PatchTokenAttention` on packed real particles (R, D) -> message (R, D)."""
    g, d = layout.num_patches, xr.shape[-1]
    if module.pool == "mean":
        total = xr.new_zeros(g, d).index_add_(0, layout.patch, xr)
        count = xr.new_zeros(g).index_add_(0, layout.patch, torch.ones_like(xr[:, 0]))
        tokens = total / count.unsqueeze(-1)
    else:
        idx = layout.patch.unsqueeze(-1).expand(-1, d)
        tokens = xr.new_full((g, d), torch.finfo(xr.dtype).min).scatter_reduce_(0, idx, xr, reduce="amax")
    dense = xr.new_zeros(layout.batch * layout.per_jet, d).index_copy_(0, layout.token_index, tokens)
    present = torch.zeros(layout.batch * layout.per_jet, dtype=torch.bool, device=xr.device)
    present[layout.token_index] = True
    msg = module.proj(module.heads(dense.view(layout.batch, layout.per_jet, d), present.view(layout.batch, -1)))
    return msg.reshape(-1, d).index_select(0, layout.token_index).index_select(0, layout.patch)
