"""Pairwise Lorentz-vector features for ParT-style attention biases (pure torch, masked, NaN-free).

For particles i, j with transverse momenta pT, rapidities y and azimuths phi:

- ``ln kT``  with kT = min(pT_i, pT_j) · ΔR,
- ``ln z``   with z = min(pT_i, pT_j) / (pT_i + pT_j),
- ``ln ΔR``  with ΔR = sqrt((y_i - y_j)^2 + Δphi^2) (rapidity–azimuth distance, Δphi wrapped to [-π, π)),
- ``ln m²``  with m² = (E_i + E_j)^2 - |p_i + p_j|^2,

in that order (:data:`PAIR_FEATURES`; the order of the ParT reference code, so weights transfer).

**eps handling**: every argument of a logarithm is clamped from
below at ``eps`` (default 1e-8, as in the ParT reference), so identical particles (ΔR = 0, kT = 0),
massless collinear pairs (m² = 0) and zeroed padded slots give ``ln eps`` ≈ -18.4 instead of -inf/NaN;
the rapidity uses ``0.5 ln((E + pz) / (E - pz))`` with both terms clamped at ``eps``. Callers zero the
four-vectors of padded particles first (:func:`particle_quantities` does), so garbage never reaches a
logarithm; the values of pairs involving padded particles are finite and must be masked by the caller.
"""

from __future__ import annotations

import math

import torch

#: Names (and order) of the pair features returned by :func:`pair_features`.
PAIR_FEATURES = ("ln_kt", "ln_z", "ln_delta_r", "ln_m2")


def particle_quantities(p4: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-particle (px, py, pz, E, pT, y, phi) of shape (..., N, 7), padded slots zeroed."""
    p4 = p4.masked_fill(~mask.unsqueeze(-1), 0.0)
    px, py, pz, e = p4.unbind(-1)
    pt = torch.sqrt(px * px + py * py)
    rap = 0.5 * torch.log((e + pz).clamp(min=eps) / (e - pz).clamp(min=eps))
    phi = torch.atan2(py, px)
    return torch.stack([px, py, pz, e, pt, rap, phi], dim=-1)


def pair_features_between(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The four pair features of particle quantities ``a`` and ``b`` (broadcastable, last dim 7)."""
    dy = a[..., 5] - b[..., 5]
    dphi = torch.remainder(a[..., 6] - b[..., 6] + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt(dy * dy + dphi * dphi)
    pt_a, pt_b = a[..., 4], b[..., 4]
    ptmin = torch.minimum(pt_a, pt_b)
    s = a[..., :4] + b[..., :4]
    m2 = s[..., 3] * s[..., 3] - (s[..., :3] * s[..., :3]).sum(-1)
    return torch.stack(
        [
            torch.log((ptmin * delta).clamp(min=eps)),
            torch.log((ptmin / (pt_a + pt_b).clamp(min=eps)).clamp(min=eps)),
            torch.log(delta.clamp(min=eps)),
            torch.log(m2.clamp(min=eps)),
        ],
        dim=-1,
    )


def pair_features(p4: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Dense pair features (B, N, N, 4) for every ordered pair (symmetric in i, j).

    Pairs with a padded particle hold finite placeholder values; mask them downstream.
    """
    q = particle_quantities(p4, mask, eps)
    return pair_features_between(q.unsqueeze(-2), q.unsqueeze(-3), eps)


def real_pair_index(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Indices ``(b, i, j)`` of every pair of real particles with ``i >= j`` (lower triangle).

    The number of pairs depends on the data, so this is for eager execution, not for export.
    """
    n = mask.shape[1]
    tril = torch.ones(n, n, dtype=torch.bool, device=mask.device).tril()
    pairs = mask.unsqueeze(2) & mask.unsqueeze(1) & tril
    b, i, j = pairs.nonzero(as_tuple=True)
    return b, i, j
