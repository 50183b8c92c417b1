"""Synthetic jets for cost measurements: realistic kinematics, every slot real.

Cost is measured on full jets (``mask`` all True) so that every model does its worst-case work at the
stated particle count; values only need to be finite and physical (positive energies, pT-ordered)
because models such as ParT compute pair features from ``p4``.
"""

from __future__ import annotations

import math

import torch

from tagformer.data.batch import JetBatch


def synthetic_jets(
    batch: int,
    particles: int,
    features: int = 3,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> JetBatch:
    """``batch`` jets of ``particles`` real particles around a random axis at ~1 TeV.

    ``features`` columns start with (log pT, deta, dphi); further columns are standard normal.
    """
    g = torch.Generator().manual_seed(seed)
    pt = torch.sort(torch.rand(batch, particles, generator=g) ** 3 * 300 + 1, dim=1, descending=True).values
    deta = torch.randn(batch, particles, generator=g) * 0.2
    dphi = torch.randn(batch, particles, generator=g) * 0.2
    eta = torch.rand(batch, 1, generator=g) * 2 - 1 + deta
    phi = (torch.rand(batch, 1, generator=g) * 2 - 1) * math.pi + dphi
    p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta), pt * torch.cosh(eta)], -1)
    base = torch.stack([torch.log(pt), deta, dphi], -1)
    extra = torch.randn(batch, particles, max(features - 3, 0), generator=g)
    feats = torch.cat([base, extra], -1)[..., :features]
    mask = torch.ones(batch, particles, dtype=torch.bool)
    return JetBatch(features=feats.float(), p4=p4.float(), mask=mask).to(device)
