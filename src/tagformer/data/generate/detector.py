"""Parametric detector (hls4ml lineage): Gaussian energy smearing and η–φ calorimeter grids.

All functions work on flat numpy arrays of the final-state particles of a whole batch of events plus
the event index of each particle; nothing loops over particles in Python.

Model
-----
- Neutrinos (|id| = 12, 14, 16) are removed; particles outside |η| < ``calo_eta_max`` are removed.
- Each particle's four-vector is scaled by ``f ~ N(1, σ)`` (particles with f <= 0 are dropped):
  charged hadrons and leptons σ = √((0.00025 pT)² + 0.015²); photons
  σ = √((0.027/√(E/1.6))² + (0.15·1.6/E)² + 0.005²); neutral hadrons σ = √((1.20/√(E/7))² + 0.05²).
- Photons are summed into an ECAL grid and neutral hadrons into an HCAL grid over |η| < ``calo_eta_max``
  (full φ). Each hit cell becomes one massless pseudo-particle at the cell centre carrying the summed
  energy. Default cells: ECAL 0.0174 × 0.0174 (CMS barrel crystal), HCAL 0.087 × 0.087 (CMS tower);
  the grid uses ``round(2 η_max / size)`` η bins and ``round(2π / size)`` φ bins (so 345 × 361 ECAL and
  69 × 72 HCAL cells by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagformer.kinematics import eta as _eta
from tagformer.kinematics import pt as _pt

#: Stable charged final-state particles (|PDG id|): e, mu, pi, K, p, Sigma+-, Xi-, Omega-.
CHARGED_IDS = np.array([11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334])
NEUTRINO_IDS = np.array([12, 14, 16])
PHOTON_ID = 22


@dataclass(frozen=True)
class Particles:
    """Flat particles of a batch of events: ``p4`` (n, 4) as (px, py, pz, E), ``event`` (n,) index."""

    p4: np.ndarray
    event: np.ndarray
    n_events: int

    def counts(self) -> np.ndarray:
        """Particles per event (events sorted, as FastJet's awkward interface expects)."""
        return np.bincount(self.event, minlength=self.n_events)


def resolution(kind: np.ndarray, p4: np.ndarray) -> np.ndarray:
    """Relative energy resolution σ per particle; ``kind`` is 0 charged, 1 photon, 2 neutral hadron."""
    e = np.maximum(p4[:, 3], 1e-9)
    ptv = _pt(p4)
    charged = np.sqrt((0.00025 * ptv) ** 2 + 0.015**2)
    photon = np.sqrt((0.027 / np.sqrt(e / 1.6)) ** 2 + (0.15 * 1.6 / e) ** 2 + 0.005**2)
    neutral = np.sqrt((1.20 / np.sqrt(e / 7.0)) ** 2 + 0.05**2)
    return np.select([kind == 0, kind == 1], [charged, photon], neutral)


def calorimeter_cells(p4: np.ndarray, event: np.ndarray, cell: float, eta_max: float, n_events: int) -> Particles:
    """Sum energies into (event, η cell, φ cell) and return one massless particle per hit cell.

    Cells are grouped by sorting the three indices together (never by packing them into one integer key,
    which overflows for fine cells and would then mix events), so any cell size gives the same grouping.
    """
    n_eta = max(1, round(2 * eta_max / cell))
    n_phi = max(1, round(2 * np.pi / cell))
    d_eta, d_phi = 2 * eta_max / n_eta, 2 * np.pi / n_phi
    etav = _eta(p4)
    phiv = np.arctan2(p4[:, 1], p4[:, 0])
    i_eta = np.clip(((etav + eta_max) / d_eta).astype(np.int64), 0, n_eta - 1)
    i_phi = np.clip(((phiv + np.pi) / d_phi).astype(np.int64), 0, n_phi - 1)
    event = event.astype(np.int64)
    order = np.lexsort((i_phi, i_eta, event))  # stable: particles of one cell keep their input order
    ev, ie, ip = event[order], i_eta[order], i_phi[order]
    first = np.ones(len(order), bool)
    first[1:] = (ev[1:] != ev[:-1]) | (ie[1:] != ie[:-1]) | (ip[1:] != ip[:-1])
    cell_of = np.cumsum(first) - 1
    energy = np.bincount(cell_of, weights=p4[order, 3], minlength=int(first.sum()))
    c_event, c_eta, c_phi = ev[first], ie[first], ip[first]
    eta_c = -eta_max + (c_eta + 0.5) * d_eta
    phi_c = -np.pi + (c_phi + 0.5) * d_phi
    ptc = energy / np.cosh(eta_c)
    out = np.stack([ptc * np.cos(phi_c), ptc * np.sin(phi_c), ptc * np.sinh(eta_c), energy], axis=1)
    return Particles(out, c_event, n_events)


def apply_detector(p4: np.ndarray, pid: np.ndarray, event: np.ndarray, n_events: int,
                   rng: np.random.Generator, *, calo_eta_max: float = 3.0, ecal_cell: float = 0.0174,
                   hcal_cell: float = 0.087) -> Particles:
    """Smear and grid the final-state particles of a batch of events.

    Parameters
    ----------
    p4, pid, event
        Flat four-momenta (n, 4), PDG ids (n,) and event indices (n,) of the final-state particles.
    n_events
        Number of events in the batch (events without particles keep an empty slot).
    rng
        Source of the smearing factors (one normal draw per visible particle, in input order).

    Returns
    -------
    Particles
        Charged particles (smeared) followed by ECAL and HCAL cells, sorted by event.
    """
    apid = np.abs(pid)
    keep = ~np.isin(apid, NEUTRINO_IDS) & (np.abs(_eta(p4)) < calo_eta_max)
    p4, apid, event = p4[keep], apid[keep], event[keep]
    kind = np.where(np.isin(apid, CHARGED_IDS), 0, np.where(apid == PHOTON_ID, 1, 2))
    factor = rng.normal(1.0, resolution(kind, p4))
    good = factor > 0
    p4 = p4[good] * factor[good, None]
    kind, event = kind[good], event[good]
    ecal = calorimeter_cells(p4[kind == 1], event[kind == 1], ecal_cell, calo_eta_max, n_events)
    hcal = calorimeter_cells(p4[kind == 2], event[kind == 2], hcal_cell, calo_eta_max, n_events)
    all_p4 = np.concatenate([p4[kind == 0], ecal.p4, hcal.p4])
    all_event = np.concatenate([event[kind == 0], ecal.event, hcal.event])
    order = np.argsort(all_event, kind="stable")
    return Particles(all_p4[order], all_event[order], n_events)


def particle_level(p4: np.ndarray, pid: np.ndarray, event: np.ndarray, n_events: int) -> Particles:
    """No detector: only neutrinos are removed."""
    keep = ~np.isin(np.abs(pid), NEUTRINO_IDS)
    return Particles(p4[keep], event[keep], n_events)
