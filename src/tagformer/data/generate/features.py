"""The 16 per-constituent features of the hls4ml layout, in hls4ml order.

For a constituent with four-momentum p = (px, py, pz, e) in a jet with four-momentum P (E-scheme sum of
all its constituents) and axis (η_J, φ_J):

==============  ===============================================================================
``px, py, pz``  momentum components (GeV)
``e``           energy (GeV)
``erel``        e / E_J
``pt``          transverse momentum (GeV)
``ptrel``       pt / pT_J
``eta``         pseudorapidity
``etarel``      η − η_J
``etarot``      (etarel, phirel) rotated about the jet axis so that the pT-weighted principal axis
                of the jet's constituents lies along η; the sign is fixed so that the
                pT-weighted third moment of etarot is ≥ 0
``phi``         azimuth in (−π, π]
``phirel``      φ − φ_J wrapped into [−π, π)
``phirot``      the second coordinate of the same rotation
``deltaR``      √(etarel² + phirel²)
``costheta``    pz / |p|
``costhetarel`` cosine of the 3D angle between p and P
==============  ===============================================================================

Constituents are pT-ordered (descending); rows beyond a jet's multiplicity are all zeros.
The principal axis uses the stored (at most ``n_constituents``) constituents.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from tagformer import kinematics as kin
from tagformer.data.hls4ml_layout import HLS4ML16

#: ``particleFeatureNames`` of generated files: :data:`tagformer.data.hls4ml_layout.HLS4ML16` with the
#: published files' ``j1_`` prefix (the reader strips it).
PARTICLE_FEATURE_NAMES: tuple[str, ...] = tuple(f"j1_{name}" for name in HLS4ML16)


def padded_p4(constituents: ak.Array, n_particles: int) -> tuple[np.ndarray, np.ndarray]:
    """pT-ordered, zero-padded (n, P, 4) four-momenta and (n, P) mask of real particles."""
    order = ak.argsort(constituents.pt, axis=1, ascending=False)
    cons = ak.pad_none(constituents[order], n_particles, axis=1, clip=True)
    cols = [ak.to_numpy(ak.fill_none(cons[f], 0.0)) for f in ("px", "py", "pz", "E")]
    mask = ak.to_numpy(~ak.is_none(cons, axis=1))
    return np.stack(cols, axis=-1).astype(np.float64), mask


def _rotation(deta: np.ndarray, dphi: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    see = np.sum(w * deta * deta, axis=1)
    spp = np.sum(w * dphi * dphi, axis=1)
    sep = np.sum(w * deta * dphi, axis=1)
    alpha = 0.5 * np.arctan2(2 * sep, see - spp)[:, None]
    c, s = np.cos(alpha), np.sin(alpha)
    erot = c * deta + s * dphi
    prot = -s * deta + c * dphi
    sign = np.where(np.sum(w * erot**3, axis=1) < 0, -1.0, 1.0)[:, None]
    return sign * erot, sign * prot


def constituent_features(p4: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """The 16 hls4ml features (n, P, 16) float32 from padded constituents and jet four-vectors.

    Parameters
    ----------
    p4
        (n, P, 4) constituent four-momenta, zero in padded rows.
    mask
        (n, P) True for real constituents.
    jet_p4
        (n, 4) jet four-momenta.
    """
    jet = jet_p4[:, None, :]
    ptv, etav, phiv = kin.pt(p4), kin.eta(p4), kin.phi(p4)
    jpt, jeta, jphi = kin.pt(jet), kin.eta(jet), kin.phi(jet)
    deta = etav - jeta
    dphi = kin.delta_phi(phiv, jphi)
    w = np.where(mask, ptv, 0.0)
    deta, dphi = np.where(mask, deta, 0.0), np.where(mask, dphi, 0.0)
    erot, prot = _rotation(deta, dphi, w)
    pabs = np.linalg.norm(p4[..., :3], axis=-1)
    jabs = np.linalg.norm(jet[..., :3], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(pabs > 0, p4[..., 2] / pabs, 0.0)
        cosrel = np.where(pabs > 0, np.sum(p4[..., :3] * jet[..., :3], axis=-1) / (pabs * jabs), 0.0)
        erel = p4[..., 3] / jet[..., 3]
        ptrel = ptv / jpt
    feats = np.stack([p4[..., 0], p4[..., 1], p4[..., 2], p4[..., 3], erel, ptv, ptrel, etav, deta, erot,
                      phiv, dphi, prot, np.hypot(deta, dphi), cos, cosrel], axis=-1)
    feats = np.where(mask[..., None], feats, 0.0)
    return np.nan_to_num(feats).astype(np.float32)
