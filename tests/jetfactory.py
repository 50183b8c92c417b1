"""Synthetic jets for tests: realistic kinematics, random multiplicities, garbage in padded slots.

Imported by name (``from jetfactory import random_jets``): several test folders have their own
``conftest.py``, so ``import conftest`` would be ambiguous."""

from __future__ import annotations

import numpy as np
import torch

from tagformer.data.batch import JetBatch


def random_jets(batch: int = 4, particles: int = 16, features: int = 3, classes: int = 5,
                seed: int = 0, min_real: int = 3) -> JetBatch:
    """Jets of ~1 TeV around a random axis: pT-ordered particles, random multiplicities, padded slots
    filled with garbage (models must ignore them). ``features`` columns are (pT, deta, dphi, ...)."""
    g = torch.Generator().manual_seed(seed)
    n_real = torch.randint(min_real, particles + 1, (batch,), generator=g)
    mask = torch.arange(particles)[None, :] < n_real[:, None]
    pt = torch.sort(torch.rand(batch, particles, generator=g) ** 3 * 300 + 1, dim=1, descending=True).values
    deta = torch.randn(batch, particles, generator=g) * 0.2
    dphi = torch.randn(batch, particles, generator=g) * 0.2
    eta0 = torch.rand(batch, 1, generator=g) * 2 - 1
    phi0 = (torch.rand(batch, 1, generator=g) * 2 - 1) * np.pi
    eta, phi = eta0 + deta, phi0 + dphi
    p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta), pt * torch.cosh(eta)], -1)
    base = torch.stack([torch.log(pt), deta, dphi], -1)
    extra = torch.randn(batch, particles, max(features - 3, 0), generator=g)
    feats = torch.cat([base, extra], -1)[..., :features]
    garbage = torch.randn(batch, particles, features, generator=g) * 50
    feats = torch.where(mask[..., None], feats, garbage)
    p4 = torch.where(mask[..., None], p4, torch.randn(batch, particles, 4, generator=g) * 50)
    labels = torch.randint(0, classes, (batch,), generator=g)
    return JetBatch(features=feats.float(), p4=p4.float(), mask=mask, labels=labels)
