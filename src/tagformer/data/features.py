"""Per-particle feature sets by name, computed from a common numpy representation.

=============  ==============================================================================================
``ptetaphi``   (pT [GeV], Δη, Δφ) to the jet axis: the trigger models' inputs (for hls4ml files the stored
               ``pt``, ``etarel``, ``phirel``)
``hls4ml16``   the 16 columns of the hls4ml layout (:data:`HLS4ML16`; their definitions are written out in
               :mod:`tagformer.data.generate.features`)
``part_kin``   ParT's kinematic inputs: ln pT, ln E, ln(pT/pT_J), ln(E/E_J), ΔR, Δη, Δφ
``part_full``  ``part_kin`` + charge and particle-ID flags + tanh(d0), σ(d0), tanh(dz), σ(dz)
=============  ==============================================================================================

Pair features for ParT-like models (ln ΔR, ln kT, ln z, ln m²) are not computed here: models that declare
``needs_pairs`` compute them on demand from ``JetBatch.p4`` (``tagformer.models.layers.pairs``).
"""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.hls4ml_layout import HLS4ML16
from tagformer.errors import DataError

PART_KIN = ["log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r", "deta", "dphi"]
PID = ["charge", "isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon"]
IP = ["tanh_d0", "d0err", "tanh_dz", "dzerr"]
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "ptetaphi": ("pt", "deta", "dphi"),
    "hls4ml16": HLS4ML16,
    "part_kin": tuple(PART_KIN),
    "part_full": tuple(PART_KIN + PID + IP),
}
#: Extras (per-particle columns a reader provides) each feature set needs.
_NEEDS = {"ptetaphi": (), "hls4ml16": (), "part_kin": (), "part_full": ("pid", "ip")}
_WHAT = {"pid": "charge and particle-ID flags",
         "ip": "impact parameters (d0, dz and their errors)"}


def feature_names(name: str) -> list[str]:
    """Column names of feature set ``name``; DataError for an unknown name."""
    if name not in FEATURE_SETS:
        raise DataError(f"unknown feature set '{name}'; choose one of {', '.join(FEATURE_SETS)}.")
    return list(FEATURE_SETS[name])


def check_available(name: str, extras: dict[str, np.ndarray], format: str, source: str) -> None:
    """Raise DataError naming the file, format and what is missing if ``name`` cannot be built."""
    feature_names(name)
    missing = [k for k in _NEEDS[name] if k not in extras]
    if missing:
        what = " and ".join(_WHAT[k] for k in missing)
        raise DataError(f"{source}: feature set '{name}' needs {what}, which the {format} format "
                        "does not provide.")


def used_extras(name: str, extras: dict[str, np.ndarray]) -> list[str]:
    """The reader extras feature set ``name`` reads (the pipeline reorders only these)."""
    if name in ("ptetaphi", "hls4ml16"):
        return [k for k in ("hls4ml16",) if k in extras]
    return list(_NEEDS[name])


def relative_coordinates(p4: np.ndarray, jet_p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Δη, Δφ) of each particle (N, P, 4) to its jet axis (N, 4); pseudorapidity, φ wrapped."""
    deta = kin.eta(p4) - kin.eta(jet_p4)[:, None]
    dphi = kin.delta_phi(kin.phi(p4), kin.phi(jet_p4)[:, None])
    return deta, dphi


def _safe_log(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask, np.log(np.where(mask & (x > 0), x, 1.0)), 0.0)


def compute_features(name: str, p4: np.ndarray, mask: np.ndarray, jet_p4: np.ndarray,
                     extras: dict[str, np.ndarray]) -> np.ndarray:
    """Feature set ``name`` as (N, P, F) float32; padded slots are 0.

    Parameters
    ----------
    p4 : (N, P, 4) particles (px, py, pz, E); mask : (N, P) real particles.
    jet_p4 : (N, 4) jet four-momentum (sum of all real constituents, before truncation).
    extras : per-particle columns from the reader, already in the same particle order as ``p4``.
    """
    if name == "hls4ml16":
        if "hls4ml16" in extras:  # stored columns, exactly as published
            out = extras["hls4ml16"]
        else:  # same definitions as the generated files (rotation from the kept particles)
            from tagformer.data.generate.features import constituent_features

            out = constituent_features(p4.astype(np.float64), mask, jet_p4)
    elif name == "ptetaphi":
        if "hls4ml16" in extras:  # the stored (pt, etarel, phirel), as trigger models use them
            out = extras["hls4ml16"][..., [5, 8, 11]]
        else:
            deta, dphi = relative_coordinates(p4, jet_p4)
            out = np.stack([kin.pt(p4), deta, dphi], axis=-1)
    else:
        pt, e = kin.pt(p4), p4[..., 3]
        deta, dphi = relative_coordinates(p4, jet_p4)
        cols = [_safe_log(pt, mask), _safe_log(e, mask),
                _safe_log(pt / np.maximum(kin.pt(jet_p4)[:, None], 1e-12), mask),
                _safe_log(e / np.maximum(jet_p4[:, None, 3], 1e-12), mask),
                np.hypot(deta, dphi), deta, dphi]
        out = np.stack(cols, axis=-1)
        if name == "part_full":
            ip = extras["ip"]
            ip_cols = np.stack([np.tanh(ip[..., 0]), ip[..., 1], np.tanh(ip[..., 2]), ip[..., 3]], axis=-1)
            out = np.concatenate([out, extras["pid"], ip_cols], axis=-1)
    out = np.where(mask[..., None], out, 0.0).astype(np.float32)
    return out
