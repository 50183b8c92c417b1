"""NumPy kinematics of four-momenta (px, py, pz, E) in GeV; broadcast over leading axes.

Conventions: eta is pseudorapidity, y rapidity, phi in (-pi, pi]; differences in phi are wrapped.
Massless or zero vectors give finite values (no NaN): eta of a zero vector is 0.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray


def pt(p4: ArrayLike) -> ArrayLike:
    return np.hypot(p4[..., 0], p4[..., 1])


def phi(p4: ArrayLike) -> ArrayLike:
    return np.arctan2(p4[..., 1], p4[..., 0])


def eta(p4: ArrayLike) -> ArrayLike:
    """Pseudorapidity asinh(pz / pT); 0 where pT = 0."""
    ptv = pt(p4)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.arcsinh(np.where(ptv > 0, p4[..., 2] / np.where(ptv > 0, ptv, 1.0), 0.0))
    return out


def rapidity(p4: ArrayLike) -> ArrayLike:
    """Rapidity 0.5 ln((E + pz) / (E - pz)); 0 where undefined."""
    e, pz = p4[..., 3], p4[..., 2]
    num, den = e + pz, e - pz
    ok = (num > 0) & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, 0.5 * np.log(np.where(ok, num, 1.0) / np.where(ok, den, 1.0)), 0.0)


def mass(p4: ArrayLike) -> ArrayLike:
    """Invariant mass, with negative m^2 (rounding) clipped to 0."""
    m2 = p4[..., 3] ** 2 - p4[..., 0] ** 2 - p4[..., 1] ** 2 - p4[..., 2] ** 2
    return np.sqrt(np.clip(m2, 0.0, None))


def wrap_phi(dphi: ArrayLike) -> ArrayLike:
    """Wrap an angle difference into [-pi, pi)."""
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def delta_phi(phi1: ArrayLike, phi2: ArrayLike) -> ArrayLike:
    return wrap_phi(phi1 - phi2)


def delta_r(eta1: ArrayLike, phi1: ArrayLike, eta2: ArrayLike, phi2: ArrayLike) -> ArrayLike:
    return np.hypot(eta1 - eta2, delta_phi(phi1, phi2))


def from_pt_eta_phi(ptv: ArrayLike, etav: ArrayLike, phiv: ArrayLike, m: ArrayLike | float = 0.0) -> ArrayLike:
    """Four-momenta (px, py, pz, E) from (pT, eta, phi, m)."""
    px, py, pz = ptv * np.cos(phiv), ptv * np.sin(phiv), ptv * np.sinh(etav)
    e = np.sqrt(px**2 + py**2 + pz**2 + np.asarray(m) ** 2)
    return np.stack([px, py, pz, e], axis=-1)
