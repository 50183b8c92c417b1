"""Jet clustering of whole batches of events and jet observables, through FastJet's awkward interface.

Observables (columns of ``jets`` before the labels), all on the jet's (detector-level) constituents:

- ``j_pt, j_eta, j_phi, j_mass``: the clustered jet four-vector (E-scheme).
- ``j_mass_mmdt``: soft-drop mass with beta = 0, z_cut = 0.1 (= modified mass-drop), from FastJet's
  ``exclusive_jets_softdrop_grooming`` after reclustering the constituents with Cambridge/Aachen.
- ``j_tau1_b1, j_tau2_b1, j_tau3_b1``: N-subjettiness with beta = 1, R0 = R, normalised measure,
  one-pass kT axes, from FastJet-contrib's ``njettiness``.
- ``j_tau21_b1 = tau2/tau1``, ``j_tau32_b1 = tau3/tau2`` (ratios computed here; 0 where the denominator
  is 0).
- ``j_multiplicity``: number of constituents (before truncation to the stored constituent count).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate.detector import Particles

OBSERVABLE_NAMES: tuple[str, ...] = (
    "j_pt", "j_eta", "j_phi", "j_mass", "j_mass_mmdt", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1",
    "j_tau21_b1", "j_tau32_b1", "j_multiplicity",
)
_RECLUSTER_R = 4.0  # C/A radius for reclustering one jet: larger than any distance inside a jet


def _jet_definition(algorithm: str, radius: float):
    import fastjet

    algo = {"antikt": fastjet.antikt_algorithm, "kt": fastjet.kt_algorithm,
            "cambridge": fastjet.cambridge_algorithm}[algorithm]
    return fastjet.JetDefinition(algo, radius)


def to_awkward(particles: Particles) -> ak.Array:
    """(events, particles) Momentum4D records with fields px, py, pz, E."""
    import vector

    vector.register_awkward()
    p = particles.p4
    flat = ak.zip({"px": p[:, 0], "py": p[:, 1], "pz": p[:, 2], "E": p[:, 3]}, with_name="Momentum4D")
    return ak.unflatten(flat, particles.counts())


def cluster(particles: Particles, algorithm: str, radius: float, pt_min: float, eta_max: float,
            max_jets: int) -> tuple[np.ndarray, np.ndarray, ak.Array]:
    """Cluster every event of a batch at once.

    Returns
    -------
    jet_p4, jet_event, constituents
        Flat (n, 4) jets with pT > ``pt_min`` and |η| < ``eta_max``, the ``max_jets`` hardest per event,
        ordered by event then decreasing pT; their event indices; their (n, constituents) Momentum4D
        constituents.
    """
    import fastjet

    events = to_awkward(particles)
    seq = fastjet.ClusterSequence(events, _jet_definition(algorithm, radius))
    jets = seq.inclusive_jets(pt_min)
    cons = ak.flatten(seq.constituents(pt_min), axis=1)
    jet_p4 = jet_four_vectors(ak.flatten(jets))
    jet_event = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(jets)))
    ptv = kin.pt(jet_p4)
    keep = np.flatnonzero(np.abs(kin.eta(jet_p4)) < eta_max)
    keep = keep[np.lexsort((-ptv[keep], jet_event[keep]))]
    ev = jet_event[keep]
    first = np.searchsorted(ev, ev, side="left")
    keep = keep[np.arange(len(keep)) - first < max_jets]
    return jet_p4[keep], jet_event[keep], cons[keep]


def jet_four_vectors(jets: ak.Array) -> np.ndarray:
    """(n, 4) numpy (px, py, pz, E) of a flat array of jets."""
    return np.stack([ak.to_numpy(jets[f]) for f in ("px", "py", "pz", "E")], axis=1).astype(np.float64)


def observables(constituents: ak.Array, jet_p4: np.ndarray, radius: float, beta: float = 0.0,
                zcut: float = 0.1) -> np.ndarray:
    """Jet observables (n, len(OBSERVABLE_NAMES)) for a flat (jets, constituents) array.

    Parameters
    ----------
    constituents
        (jets, constituents) Momentum4D records; every jet needs at least one constituent.
    jet_p4
        (n, 4) jet four-vectors.
    radius
        Jet radius, used as R0 of soft drop and N-subjettiness.
    """
    import fastjet

    n = len(jet_p4)
    out = np.zeros((n, len(OBSERVABLE_NAMES)), np.float64)
    if n == 0:
        return out
    out[:, 0], out[:, 1], out[:, 2] = kin.pt(jet_p4), kin.eta(jet_p4), kin.phi(jet_p4)
    out[:, 3] = kin.mass(jet_p4)
    seq = fastjet.ClusterSequence(constituents, _jet_definition("cambridge", _RECLUSTER_R))
    out[:, 4] = _softdrop(seq, radius, beta, zcut)
    tau = ak.to_numpy(seq.njettiness(njets=[1, 2, 3], beta=1.0, R0=radius))
    out[:, 5:8] = np.nan_to_num(tau, nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 8] = np.where(out[:, 5] > 0, out[:, 6] / out[:, 5], 0.0)
        out[:, 9] = np.where(out[:, 6] > 0, out[:, 7] / out[:, 6], 0.0)
    out[:, 10] = ak.to_numpy(ak.num(constituents, axis=1))
    return out


def _softdrop(seq, radius: float, beta: float, zcut: float) -> np.ndarray:
    sd = seq.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=zcut, R0=radius)
    return ak.to_numpy(sd.msoftdrop).astype(np.float64)


def softdrop_mass(constituents: ak.Array, radius: float, beta: float = 0.0, zcut: float = 0.1) -> np.ndarray:
    """Soft-drop mass (n,) of a flat (jets, constituents) array, exactly as ``j_mass_mmdt`` is computed."""
    import fastjet

    if len(constituents) == 0:
        return np.zeros(0)
    seq = fastjet.ClusterSequence(constituents, _jet_definition("cambridge", _RECLUSTER_R))
    return _softdrop(seq, radius, beta, zcut)
