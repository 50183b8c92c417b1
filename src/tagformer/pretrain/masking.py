"""Seeded random particle masks that respect padding.

A jet with ``n`` real particles gets ``k = round(fraction * n)`` masked particles, at least one and at most
``n - 1``: padded slots are never masked, and no jet loses all its particles (a jet with one particle keeps
it). The choice is uniform among the real particles and a function of the generator's state only.
"""

from __future__ import annotations

import torch


def masked_counts(mask: torch.Tensor, fraction: float) -> torch.Tensor:
    """How many particles of each jet (B,) to mask: ``round(fraction * n)`` clamped to ``[1, n - 1]``
    (0 for jets with fewer than two real particles)."""
    n = mask.sum(dim=1)
    k = torch.round(n.to(torch.float32) * float(fraction)).to(n.dtype)
    k = torch.maximum(k, torch.ones_like(k))
    return torch.minimum(k, (n - 1).clamp_min(0))


def random_particle_mask(mask: torch.Tensor, fraction: float, generator: torch.Generator | None = None,
                         counts: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N) bool, True = masked: ``counts`` (default :func:`masked_counts`) real particles per jet, drawn
    uniformly with ``generator`` (drawn on the generator's device, then moved to the mask's)."""
    if not 0.0 < float(fraction) < 1.0 and counts is None:
        raise ValueError(f"mask fraction must be in (0, 1), got {fraction}")
    k = masked_counts(mask, fraction) if counts is None else counts
    device = generator.device if generator is not None else mask.device
    scores = torch.rand(mask.shape, generator=generator, device=device).to(mask.device)
    scores = torch.where(mask, scores, torch.full_like(scores, 2.0))  # padded slots rank last
    rank = scores.argsort(dim=1).argsort(dim=1)
    return (rank < k.unsqueeze(1)) & mask


def one_particle_mask(mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, N) bool: one real particle per jet with at least two real particles, none otherwise."""
    k = (mask.sum(dim=1) >= 2).to(torch.long)
    return random_particle_mask(mask, 0.5, generator, counts=k)


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded from (seed, step, stream): the masks of optimiser step ``step`` are the same in
    a resumed run as in an uninterrupted one."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(step) * 7919 + int(stream)) % (2**63 - 1))
