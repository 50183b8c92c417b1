"""HEPT-style locality-sensitive-hashing attention (arXiv:2402.12535).

Queries and keys are augmented with the particle coordinates (eta, phi), scaled per head by a learned
positive factor, so that ``softmax(q~ . k~ - |k~|^2 / 2)`` is a normalised RBF kernel
``exp(-|q~ - k~|^2 / 2)`` on feature + coordinate distance. Tokens that are close under that kernel are
brought together by hashing:

* E2LSH: fixed random Gaussian projections (buffers drawn from a seeded generator) of the augmented keys;
  the projection value orders tokens inside a region (sorting by it is the same as sorting by the
  quantised E2LSH bucket, without ties; mapped monotonically into (0, 1) in float64).
* AND construction: equal-count regions in eta and in phi (by rank among the jet's real particles); the
  region index is added as an integer offset to the sort key, so tokens never share a block across
  regions unless a region's tail spills into the next block.
* OR construction: ``num_tables`` independent projections; each table sorts, cuts into blocks of
  ``block_size``, runs exact attention inside blocks and un-permutes; the tables' outputs are averaged.

Padded particles get the largest sort key (they go to the end) and are masked as keys. Sort keys are
continuous, so ties have probability zero and the output does not depend on the input order of the
particles (it is permutation invariant up to float rounding). Cost: ``N log N`` to sort, ``N * block``
for attention.

Attention maps (kind ``"lsh_blocks"``, one per hash table and call): the weights inside each block, with
heads and blocks folded into the batch axis because every head sorts the particles its own way. See
:class:`LSHAttention` for the layout and :func:`lsh_particle_weights` for the particle x particle map.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.models.attention.probe import AttentionMap, AttentionProbe, softmax_weights

_PAD_KEY = 1.0e6


def equal_count_region(values: torch.Tensor, mask: torch.Tensor, regions: int) -> torch.Tensor:
    """Region index in ``[0, regions)`` of each real particle by its rank in ``values`` (B, N)."""
    big = torch.finfo(values.dtype).max
    rank = values.masked_fill(~mask, big).argsort(dim=1).argsort(dim=1).to(values.dtype)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(values.dtype)
    return torch.floor(rank * regions / count).clamp(max=regions - 1)


class LSHAttention(AttentionProbe):
    """Multi-head RBF attention inside LSH blocks (see module docstring).

    Attention probe: under :func:`~tagformer.models.attention.probe.capture_attention` every hash table
    records one map of kind ``"lsh_blocks"`` with weights (B * H * blocks, 1, block_size, block_size):
    row ``(b * H + h) * blocks + j`` holds block j of head h of jet b, queries x keys in sorted order.
    ``query_index`` = ``key_index`` (B * H * blocks, block_size) give the particle (slot in the batch) each
    sorted position holds, -1 for padding; ``query_mask`` = ``key_mask`` = ``index >= 0``. Averaging
    :func:`lsh_particle_weights` over the tables gives the layer's particle x particle weights.

    Parameters
    ----------
    dim, num_heads : model width and heads.
    block_size : tokens per block after sorting.
    num_tables : OR construction, number of hash tables.
    regions : AND construction, (eta regions, phi regions).
    seed : seed of the fixed random projections.
    """

    def __init__(
        self, dim: int, num_heads: int, block_size: int = 32, num_tables: int = 2,
        regions: tuple[int, int] = (2, 2), seed: int = 0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.block_size = block_size
        self.regions = (int(regions[0]), int(regions[1]))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.coord_scale = nn.Parameter(torch.zeros(num_heads))  # softplus(0) ~ 0.69 per head
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("projections", torch.randn(num_tables, num_heads, self.head_dim + 2, generator=g))

    def forward(self, x: torch.Tensor, coords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, N, D), ``coords`` (B, N, 2) = (eta, phi) relative to the jet, ``mask`` (B, N)."""
        b, n, d = x.shape
        h, dh = self.num_heads, self.head_dim
        q, k, v = self.qkv(x).view(b, n, 3, h, dh).permute(2, 0, 3, 1, 4)  # (B, H, N, dh)
        pos = coords.unsqueeze(1) * F.softplus(self.coord_scale).view(1, h, 1, 1) * dh**0.25
        q = torch.cat([q, pos], dim=-1)
        k = torch.cat([k, pos], dim=-1)
        region = equal_count_region(coords[..., 0], mask, self.regions[0]) * self.regions[1]
        region = region + equal_count_region(coords[..., 1], mask, self.regions[1])
        outputs = []
        for table in range(self.projections.shape[0]):
            proj = torch.einsum("bhnc,hc->bhn", k.detach(), self.projections[table]).double()
            code = 0.5 + 0.5 * proj / (1.0 + proj.abs())  # monotonic into (0, 1), float64: no ties appear
            key = (region.double().unsqueeze(1) + code).masked_fill(~mask.unsqueeze(1), _PAD_KEY)
            outputs.append(self._blocked(q, k, v, mask, key.argsort(dim=-1)))
        y = torch.stack(outputs, 0).mean(0)  # (B, H, N, dh)
        return self.out(y.transpose(1, 2).reshape(b, n, d))

    def _blocked(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, order: torch.Tensor
    ) -> torch.Tensor:
        b, h, n, _ = v.shape
        size = self.block_size
        extra = (size - n % size) % size

        def sort(t: torch.Tensor) -> torch.Tensor:
            t = t.gather(2, order.unsqueeze(-1).expand(-1, -1, -1, t.shape[-1]))
            return F.pad(t, (0, 0, 0, extra)).reshape(b, h, -1, size, t.shape[-1])

        keep = F.pad(mask.unsqueeze(1).expand(-1, h, -1).gather(2, order), (0, extra), value=False)
        keep = keep.reshape(b, h, -1, 1, size)
        allowed = keep | torch.eye(size, dtype=torch.bool, device=v.device)  # (B, H, blocks, size, size)
        qs, ks = sort(q), sort(k)
        # RBF kernel as a softmax: q.k - |k|^2 / 2 (the |q|^2 term cancels); one extra column carries it.
        ones = torch.ones_like(qs[..., :1])
        qa = torch.cat([qs, ones], dim=-1)
        ka = torch.cat([ks, -0.5 * ks.pow(2).sum(-1, keepdim=True)], dim=-1)
        vs = sort(v)
        nb = vs.shape[2]
        if self.probing:
            index = torch.where(keep.reshape(b, h, -1), F.pad(order, (0, extra)), -1)
            self._emit_blocks(qa, ka, allowed, index, scale=qs.shape[-1] ** -0.5)
        y = F.scaled_dot_product_attention(  # 4D (B*H, blocks, size, .) for every backend and ONNX
            qa.reshape(b * h, nb, size, -1), ka.reshape(b * h, nb, size, -1), vs.reshape(b * h, nb, size, -1),
            attn_mask=allowed.reshape(b * h, nb, size, size), scale=qs.shape[-1] ** -0.5,
        )
        y = y.reshape(b, h, -1, y.shape[-1])[:, :, :n]
        inverse = order.argsort(dim=-1)
        return y.gather(2, inverse.unsqueeze(-1).expand(-1, -1, -1, y.shape[-1]))

    def _emit_blocks(self, qa: torch.Tensor, ka: torch.Tensor, allowed: torch.Tensor, index: torch.Tensor,
                     scale: float) -> None:
        """Record one table's block weights: (B, H, blocks, size, .) inputs, ``index`` (B, H, blocks * size)."""
        size = allowed.shape[-1]
        rows = index.reshape(-1, size)
        groups = rows.shape[0]
        weights = softmax_weights(qa.reshape(groups, 1, size, -1), ka.reshape(groups, 1, size, -1),
                                  allowed.reshape(groups, 1, size, size), scale=scale)
        real = rows >= 0
        self.emit(weights, "lsh_blocks", query_mask=real, key_mask=real, query_index=rows, key_index=rows)


def lsh_particle_weights(amap: AttentionMap, batch_size: int, num_heads: int, num_particles: int) -> torch.Tensor:
    """Scatter one ``"lsh_blocks"`` map (see :class:`LSHAttention`) onto the particles: (B, H, N, N) with
    ``[b, h, i, j]`` the weight of particle j for particle i (zero outside their block and for padding).

    Every real particle's row sums to 1; the mean over a layer's tables is its particle x particle map.
    """
    queries, keys = amap.query_index, amap.key_index
    if amap.kind != "lsh_blocks" or queries is None or keys is None:
        raise ValueError(f"expected an lsh_blocks map with particle indices, got kind {amap.kind!r}")
    w = amap.weights[:, 0]
    blocks = w.shape[0] // (batch_size * num_heads)
    head = torch.arange(w.shape[0], device=w.device).div(blocks, rounding_mode="floor")[:, None, None]
    flat = queries[:, :, None] * num_particles + keys[:, None, :]
    valid = (queries[:, :, None] >= 0) & (keys[:, None, :] >= 0)
    out = w.new_zeros(batch_size * num_heads, num_particles * num_particles)
    out.index_put_((head.expand_as(valid)[valid], flat[valid]), w[valid], accumulate=True)
    return out.view(batch_size, num_heads, num_particles, num_particles)
