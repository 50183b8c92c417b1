"""SAL-T attention (arXiv:2510.23641): partitioned low-rank attention with convolutions on the scores.

Particles arrive sorted by a kinematic key (e.g. kT). The real particles of each jet are split into
``partitions`` contiguous groups, and each group is compressed to one key and one value per head by
learned weights indexed by the position inside the group (``C = ceil(num_particles / P)`` slots per
group). Two rules place the particle of rank r (among the jet's R real ones, in the given order):

* ``"position"`` (the reference TF code's rule): fixed chunks of ``C`` positions, group ``floor(r / C)``,
  slot ``r mod C`` — the sorted sequence padded to ``num_particles`` cut into P equal chunks, so short
  jets leave the last groups empty;
* ``"rank"``: groups of (almost) equal size over the real particles, group ``floor(r * P / R)``, slot
  r minus the group's first rank, so every jet with at least P particles fills all P groups.

Ranks count real particles only, so with the padding after the real particles (the data layout) the
rank is the slot position. Jets with more than ``P * C`` real particles put the surplus into the last
group with the last slot's weight. Queries attend to these P summaries; before the
softmax, 2D convolutions of heights (1, 3, 5) and width P slide over the (N x P) score map (shared by
heads) and are averaged, adding correlations between neighbouring particles in the ordering. With odd
heights the average is computed as ONE convolution whose kernel is the mean of the kernels zero-padded to
the tallest height (exactly the same function, about 3x cheaper for heights 1, 3, 5).

Padding: keys/values of padded particles are zeroed, padded score rows are zeroed before the
convolutions (so a jet's last real row sees zeros, as at the edge of the map), and empty groups (no real
particle: short jets under the position rule, jets with fewer than P particles under the rank rule) are
masked from the softmax. Extra padded slots change nothing. (The reference does not mask: there the
padded slots' tokens enter the summaries, the score map and the softmax; docs/models.md.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.models.attention.probe import AttentionProbe

PARTITION_RULES = ("position", "rank")


def partition_groups(mask: torch.Tensor, parts: int, chunk: int, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Group (B, N) and slot inside the group (B, N) of every particle under ``rule`` (module docstring).

    Values at padded positions are meaningless (callers mask them).
    """
    real = mask.to(torch.int64)
    rank = torch.cumsum(real, dim=1) - 1
    if rule == "position":
        group = torch.div(rank, chunk, rounding_mode="floor").clamp(0, parts - 1)
        start = group * chunk
    elif rule == "rank":
        count = real.sum(dim=1, keepdim=True).clamp(min=1)
        group = torch.div(rank * parts, count, rounding_mode="floor").clamp(0, parts - 1)
        start = torch.div(group * count + parts - 1, parts, rounding_mode="floor")
    else:
        raise ValueError(f"unknown partition rule {rule!r}; choose from {', '.join(PARTITION_RULES)}")
    return group, (rank - start).clamp(0, chunk - 1)


def partition_weights(mask: torch.Tensor, weights: torch.Tensor, rule: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-particle compression weights and group membership.

    Parameters
    ----------
    mask : (B, N) bool, real particles.
    weights : (H, P, C) learned weights (C = slots per group).
    rule : ``"position"`` or ``"rank"`` (see the module docstring).

    Returns
    -------
    (B, H, N, P) weights of each particle in its group's summary (zero elsewhere and for padding),
    (B, P) bool, groups holding at least one real particle.
    """
    heads, parts, chunk = weights.shape
    group, local = partition_groups(mask, parts, chunk, rule)
    flat = weights.reshape(heads, parts * chunk)[:, group * chunk + local]  # (H, B, N)
    member = (group.unsqueeze(-1) == torch.arange(parts, device=mask.device)) & mask.unsqueeze(-1)
    w = flat.permute(1, 0, 2).unsqueeze(-1) * member.unsqueeze(1).to(weights.dtype)
    return w, member.any(dim=1)


class SALTAttention(AttentionProbe):
    """Spatially aware linear attention over ``partitions`` group summaries.

    Attention probe: under :func:`~tagformer.models.attention.probe.capture_attention` it records the
    weights it applies, (B, H, N, P) of kind ``"partitions"``: every particle slot over the P group
    summaries, after the score-map convolutions and the softmax. ``query_mask`` marks the real particles,
    ``key_mask`` the groups that hold a real particle (empty groups get zero weight).
    :func:`effective_particle_weights` maps them onto the particles.

    Parameters
    ----------
    dim, num_heads : width and heads.
    num_particles : largest number of real particles per jet the group weights are sized for.
    partitions : number of groups P.
    conv_heights : kernel heights of the score-map convolutions (averaged); empty for none.
    partition_rule : ``"position"`` (reference) or ``"rank"`` (module docstring).
    """

    def __init__(
        self, dim: int, num_heads: int, num_particles: int, partitions: int = 4,
        conv_heights: Sequence[int] = (1, 3, 5), partition_rule: str = "position",
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        if partition_rule not in PARTITION_RULES:
            raise ValueError(f"unknown partition rule {partition_rule!r}; choose from {', '.join(PARTITION_RULES)}")
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.partition_rule = partition_rule
        chunk = math.ceil(num_particles / partitions)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.key_weights = nn.Parameter(torch.randn(num_heads, partitions, chunk) / chunk**0.5)
        self.value_weights = nn.Parameter(torch.randn(num_heads, partitions, chunk) / chunk**0.5)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, 1, (h, partitions), padding="same") for h in conv_heights
        )
        self.out = nn.Linear(dim, dim)

    def reset_glorot(self) -> None:
        """Keras defaults, as in the reference: Glorot-uniform q/k/v (each ``dim x dim`` block), output,
        convolution and partition weights, zero biases. The partition weights (H, P, C) use Keras's fans
        for a 3-d kernel (``H * P`` in, ``H * C`` out)."""
        dim = self.out.in_features
        with torch.no_grad():
            for block in self.qkv.weight.split(dim, dim=0):
                nn.init.xavier_uniform_(block)
            for layer in (self.out, *self.convs):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
            heads, parts, chunk = self.key_weights.shape
            limit = math.sqrt(6.0 / (heads * parts + heads * chunk))
            nn.init.uniform_(self.key_weights, -limit, limit)
            nn.init.uniform_(self.value_weights, -limit, limit)

    def merged_conv(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the one convolution equal to the average of the (odd-height) convolutions:
        with 'same' padding, a centred zero-padded kernel computes the same sums as the original."""
        tallest = max(c.kernel_size[0] for c in self.convs)
        kernels = [F.pad(c.weight, (0, 0, (tallest - c.kernel_size[0]) // 2, (tallest - c.kernel_size[0]) // 2))
                   for c in self.convs]
        return torch.stack(kernels).mean(0), torch.stack([c.bias for c in self.convs]).mean(0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        keep = mask[:, None, :, None]
        q, k, v = (t.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
                   for t in self.qkv(x).chunk(3, dim=-1))
        wk, present = partition_weights(mask, self.key_weights, self.partition_rule)
        wv, _ = partition_weights(mask, self.value_weights, self.partition_rule)
        keys = torch.einsum("bhnp,bhnd->bhpd", wk, k.masked_fill(~keep, 0.0))
        values = torch.einsum("bhnp,bhnd->bhpd", wv, v.masked_fill(~keep, 0.0))
        scores = (q @ keys.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(~keep, 0.0)
        if len(self.convs):
            flat = scores.reshape(b * self.num_heads, 1, n, -1)
            if all(c.kernel_size[0] % 2 for c in self.convs):
                weight, bias = self.merged_conv()
                scores = F.conv2d(flat, weight, bias, padding="same").view_as(scores)
            else:
                scores = torch.stack([conv(flat) for conv in self.convs]).mean(0).view_as(scores)
        present = present | ~present.any(dim=1, keepdim=True)
        scores = scores.masked_fill(~present[:, None, None, :], float("-inf"))
        weights = F.softmax(scores, dim=-1)
        if self.probing:
            self.emit(weights, "partitions", query_mask=mask, key_mask=present)
        out = weights @ values
        return self.out(out.transpose(1, 2).reshape(b, n, d))


def effective_particle_weights(weights: torch.Tensor, attention: SALTAttention, mask: torch.Tensor) -> torch.Tensor:
    """Particle x particle weights equivalent to a ``"partitions"`` map of ``attention``.

    Each query's output is ``sum_p w_qp s_p`` with the group summaries ``s_p = sum_n W_np v_n`` (W: the
    value weights of each real particle in its group), i.e. ``sum_n (w W^T)_qn v_n``: this returns
    ``w W^T`` (B, H, N, N), zero on padded keys. Unlike softmax weights these may be negative and need not
    sum to 1.

    Parameters
    ----------
    weights : (B, H, N, P) weights recorded by ``attention``.
    attention : the module that recorded them.
    mask : (B, N) real particles of the batch it ran on.
    """
    members, _ = partition_weights(mask, attention.value_weights.to(weights.dtype), attention.partition_rule)
    return weights @ members.transpose(-1, -2)
