"""PHAT-JeT hierarchical patch attention: exact attention inside patches, then attention between patches.

The sequence is cut into non-overlapping patches of ``P`` consecutive particles (zero-padded to a
multiple of ``P``). :class:`PatchAttention` runs full multi-head attention inside each patch;
:class:`PatchTokenAttention` pools each patch to one token (masked mean or max over real particles),
runs multi-head attention over the patch tokens and broadcasts each token's output back to its particles.
Cost is ``N * P`` for the first and ``(N / P)^2`` for the second.

Masking: padded particles (and patches without real particles) are never attended to. A padded query
whose patch holds no real particle may still attend to itself, so its (discarded) output stays finite.

Attention probes (:mod:`~tagformer.models.attention.probe`): :class:`PatchAttention` records kind
``"patch"`` with weights (B * NP, H, P, P), one row per patch of every jet (``NP = ceil(N / P)`` patches
per jet, jet-major), real particles as ``query_mask``/``key_mask`` and the particle position in the jet
of every slot as ``query_index``/``key_index`` (-1 where the slot holds no real particle);
:class:`PatchTokenAttention` records kind ``"patch_tokens"`` (B, H, NP, NP) with the patches holding a
real particle as masks. Both paths (padded and packed) record the same maps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.models.attention.probe import AttentionProbe, softmax_weights


def pad_to_patches(x: torch.Tensor, mask: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad (B, N, D) and (B, N) along N with zeros / False to a multiple of ``patch_size``."""
    n = x.shape[1]
    extra = (patch_size - n % patch_size) % patch_size
    return F.pad(x, (0, 0, 0, extra)), F.pad(mask, (0, extra), value=False)


def _allowed(key_mask: torch.Tensor, length: int) -> torch.Tensor:
    """Boolean (..., L, L) mask: real keys (``key_mask`` (..., L)) plus the diagonal (self always allowed)."""
    eye = torch.eye(length, dtype=torch.bool, device=key_mask.device)
    return key_mask.unsqueeze(-2) | eye


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """SDPA over (..., L, dh) with boolean ``key_mask`` (..., L) plus the diagonal (self is always allowed)."""
    allowed = _allowed(key_mask, q.shape[-2])
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

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g, length, d = x.shape
        return self.qkv(x).view(g, length, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """``x`` (G, L, D), ``key_mask`` (G, L) -> (G, L, D)."""
        g, length, d = x.shape
        q, k, v = self._qkv(x)
        y = _attend(q, k, v, key_mask.unsqueeze(1))  # (G, H, L, dh)
        return self.out(y.transpose(1, 2).reshape(g, length, d))

    def weights(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """The (G, H, L, L) attention weights :meth:`forward` applies (for probes)."""
        q, k, _ = self._qkv(x)
        return softmax_weights(q, k, _allowed(key_mask, x.shape[1]).unsqueeze(1))


class PatchAttention(AttentionProbe):
    """Exact multi-head attention inside non-overlapping patches of ``patch_size`` consecutive particles."""

    def __init__(self, dim: int, num_heads: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.heads = _Heads(dim, num_heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, D), ``mask`` (B, N) -> (B, N, D)."""
        b, n, d = x.shape
        xp, mp = pad_to_patches(x, mask, self.patch_size)
        groups, real = xp.reshape(-1, self.patch_size, d), mp.reshape(-1, self.patch_size)
        if self.probing:
            self._record(self.heads.weights(groups, real), real, mp.shape[1] // self.patch_size)
        y = self.heads(groups, real)
        return y.reshape(b, -1, d)[:, :n]

    def forward_packed(self, xr: torch.Tensor, layout: PatchLayout) -> torch.Tensor:
        """The same on packed real particles (R, D) (eager path) -> (R, D)."""
        groups = layout.to_patches(xr)
        occupied = layout.occupied.view(layout.num_patches, layout.patch_size)
        if self.probing:
            weights = self.heads.weights(groups, occupied)
            self._record(layout.to_jet_patches(weights), layout.to_jet_patches(occupied), layout.per_jet)
        return layout.from_patches(self.heads(groups, occupied))

    def _record(self, weights: torch.Tensor, real: torch.Tensor, per_jet: int) -> None:
        """Emit (B * NP, H, P, P) weights with masks and particle positions of the (B * NP, P) slots."""
        rows = torch.arange(real.shape[0], device=real.device) % per_jet
        position = rows[:, None] * self.patch_size + torch.arange(self.patch_size, device=real.device)
        index = position.masked_fill(~real, -1)
        self.emit(weights, "patch", query_mask=real, key_mask=real, query_index=index, key_index=index)


class PatchTokenAttention(AttentionProbe):
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
        msg = self._attend_tokens(tokens, mp.any(-1))  # (B, NP, D)
        msg = msg.unsqueeze(2).expand(-1, -1, self.patch_size, -1).reshape(b, -1, d)
        return msg[:, :n]

    def forward_packed(self, xr: torch.Tensor, layout: PatchLayout) -> torch.Tensor:
        """The same on packed real particles (R, D) (eager path) -> message (R, D)."""
        g, d = layout.num_patches, xr.shape[-1]
        if self.pool == "mean":
            total = xr.new_zeros(g, d).index_add_(0, layout.patch, xr)
            count = xr.new_zeros(g).index_add_(0, layout.patch, torch.ones_like(xr[:, 0]))
            tokens = total / count.unsqueeze(-1)
        else:
            idx = layout.patch.unsqueeze(-1).expand(-1, d)
            tokens = xr.new_full((g, d), torch.finfo(xr.dtype).min).scatter_reduce_(0, idx, xr, reduce="amax")
        dense = layout.to_jet_patches(tokens).view(layout.batch, layout.per_jet, d)
        present = layout.to_jet_patches(torch.ones_like(tokens[:, 0], dtype=torch.bool))
        msg = self._attend_tokens(dense, present.view(layout.batch, -1))
        return msg.reshape(-1, d).index_select(0, layout.token_index).index_select(0, layout.patch)

    def _attend_tokens(self, tokens: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Attention over patch tokens (B, NP, D) of the patches ``present`` (B, NP), then the dense."""
        if self.probing:
            self.emit(self.heads.weights(tokens, present), "patch_tokens", query_mask=present, key_mask=present)
        return self.proj(self.heads(tokens, present))


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

    def to_jet_patches(self, values: torch.Tensor) -> torch.Tensor:
        """Per occupied patch (G, ...) -> per patch of every jet (B * patches_per_jet, ...), zero/False elsewhere."""
        out = values.new_zeros(self.batch * self.per_jet, *values.shape[1:])
        return out.index_copy_(0, self.token_index, values)
