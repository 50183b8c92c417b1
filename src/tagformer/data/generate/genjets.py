"""Per-jet regression targets of generated jets: parent mass and the particle-level (before the detector) jet.

Columns (``TARGET_NAMES``, written as the ``jetTargets`` dataset, see ``writer.py``):

- ``parent_mass``: mass of the matched W, Z or top (last copy in the event record, from its four-momentum,
  so it follows the generated Breit-Wigner line shape); NaN for q and g jets.
- ``gen_mass``, ``gen_sdmass``, ``gen_pt``: mass, soft-drop mass (the settings of ``j_mass_mmdt``) and pT of
  the particle-level jet: the stable final-state particles except neutrinos, before the detector
  simulation, clustered with the same algorithm and R; the particle-level jet nearest to the reconstructed
  jet within ΔR < R/2 is its match (NaN where none; pT > half the reconstructed jet cut, no η cut). Without a
  detector (``detector = "none"``) the reconstructed jet is the particle-level jet.
"""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate import detector as det
from tagformer.data.generate.jets import cluster, softdrop_mass

TARGET_NAMES: tuple[str, ...] = ("parent_mass", "gen_mass", "gen_sdmass", "gen_pt")
#: Particle-level jets are matched within ΔR < this fraction of R.
MATCH_FRACTION = 0.5
#: Particle-level jets are kept above this fraction of the reconstructed jet pT cut.
PT_FRACTION = 0.5
_NO_LIMIT = 1 << 30


def nearest(event_a: np.ndarray, p4_a: np.ndarray, event_b: np.ndarray, p4_b: np.ndarray,
            max_dr: float) -> np.ndarray:
    """Index into ``b`` of the nearest object in the same event within ΔR < ``max_dr`` for each ``a``; -1 if none."""
    out = np.full(len(event_a), -1, np.int64)
    ia, ib = np.nonzero(event_a[:, None] == event_b[None, :])
    dr = kin.delta_r(kin.eta(p4_a)[ia], kin.phi(p4_a)[ia], kin.eta(p4_b)[ib], kin.phi(p4_b)[ib])
    close = dr < max_dr
    ia, ib, dr = ia[close], ib[close], dr[close]
    order = np.lexsort((dr, ia))
    ia, ib = ia[order], ib[order]
    first = np.ones(len(ia), bool)
    first[1:] = ia[1:] != ia[:-1]
    out[ia[first]] = ib[first]
    return out


def particle_level_jets(p4: np.ndarray, pid: np.ndarray, event: np.ndarray, jet_event: np.ndarray,
                        jet_p4: np.ndarray, algorithm: str, radius: float, jet_pt_min: float, beta: float,
                        zcut: float) -> np.ndarray:
    """(n, 3) ``gen_mass, gen_sdmass, gen_pt`` of the particle-level jet matched to each reconstructed jet.

    Parameters
    ----------
    p4, pid, event
        Flat final-state particles of the batch (before the detector) and their event indices.
    jet_event, jet_p4
        The reconstructed jets: event index and (n, 4) four-vector.

    Only the events holding a jet are clustered again (one FastJet clustering per such event).
    """
    out = np.full((len(jet_event), 3), np.nan)
    if len(jet_event) == 0:
        return out
    events = np.unique(jet_event)
    keep = np.isin(event, events)
    local = np.searchsorted(events, event[keep])
    parts = det.particle_level(p4[keep], pid[keep], local, len(events))
    gen_p4, gen_event, gen_cons = cluster(parts, algorithm, radius, PT_FRACTION * jet_pt_min, np.inf, _NO_LIMIT)
    match = nearest(np.searchsorted(events, jet_event), jet_p4, gen_event, gen_p4, MATCH_FRACTION * radius)
    ok = match >= 0
    if ok.any():
        chosen = gen_p4[match[ok]]
        out[ok, 0] = kin.mass(chosen)
        out[ok, 1] = softdrop_mass(gen_cons[match[ok]], radius, beta, zcut)
        out[ok, 2] = kin.pt(chosen)
    return out
