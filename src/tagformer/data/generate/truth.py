"""Truth labels: match reconstructed jets to the generator-level object of their class.

- W, Z, t: the last copy of the boson/top (after its recoil copies in the shower) must lie within
  ΔR < R of the jet axis, and so must all its decay quarks (W/Z → q q'; t → b q q' through the last
  copy of its W). Decay quarks are taken where the resonance decays (status ±23).
- q, g: the hard-process outgoing partons (status -23; the QCD samples have no resonances). A jet is
  matched if a parton of its class flavour (g: gluon; q: u, d, s, c) lies within ΔR < R and no hard parton
  of another flavour does.

Jets that do not match are dropped by the caller, never relabelled. Everything is numpy over the flat
event record of a whole batch.

Each truth object also carries its mass: for W, Z and t the invariant mass of the last copy's
four-momentum in the event record (so it follows the generated Breit-Wigner line shape, not the pole
mass); NaN for q and g. :func:`parent_mass` gives, per matched jet, the mass of its object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate.record import EventRecord

#: PDG id of the resonance of each heavy class.
RESONANCE_ID = {"w": 24, "z": 23, "t": 6}
#: Flavours counted as a light-quark jet (u, d, s, c; b jets are not "q").
LIGHT_QUARKS = (1, 2, 3, 4)
_MAX_COPIES = 500


@dataclass(frozen=True)
class TruthObjects:
    """Flat truth objects: event index, direction, class flavour flag, decay-quark directions (n, k), mass
    (GeV; NaN for q and g)."""

    event: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    ok: np.ndarray
    qeta: np.ndarray
    qphi: np.ndarray
    mass: np.ndarray


def _last_copy(rec: EventRecord, idx: np.ndarray) -> np.ndarray:
    """Follow recoil copies (daughter1 carries the same id) from ``idx`` to the last copy."""
    idx = idx.copy()
    for _ in range(_MAX_COPIES):
        nxt = rec.daughter1[idx]
        cont = (nxt >= 0) & (rec.id[np.maximum(nxt, 0)] == rec.id[idx])
        if not cont.any():
            break
        idx[cont] = nxt[cont]
    return idx


def _direction(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return kin.eta(p4), kin.phi(p4)


def truth_objects(rec: EventRecord, label: str) -> TruthObjects:
    """The truth objects of class ``label`` in every event of the batch."""
    if label in RESONANCE_ID:
        rid = RESONANCE_ID[label]
        aid = np.abs(rec.id)
        d1 = rec.daughter1
        last = (aid == rid) & ((d1 < 0) | (np.abs(rec.id[np.maximum(d1, 0)]) != rid))
        res = np.flatnonzero(last)
        a, b = rec.daughter1[res], rec.daughter2[res]
        if label == "t":
            first_is_w = np.abs(rec.id[a]) == 24
            w = _last_copy(rec, np.where(first_is_w, a, b))
            quarks = np.stack([np.where(first_is_w, b, a), rec.daughter1[w], rec.daughter2[w]], axis=1)
        else:
            quarks = np.stack([a, b], axis=1)
        eta, phi = _direction(rec.p4[res])
        qeta, qphi = _direction(rec.p4[quarks])
        return TruthObjects(rec.event[res], eta, phi, np.ones(len(res), bool), qeta, qphi, kin.mass(rec.p4[res]))
    hard = np.flatnonzero(rec.status == -23)
    pid = np.abs(rec.id[hard])
    ok = pid == 21 if label == "g" else np.isin(pid, LIGHT_QUARKS)
    eta, phi = _direction(rec.p4[hard])
    empty = np.zeros((len(hard), 0))
    return TruthObjects(rec.event[hard], eta, phi, ok, empty, empty, np.full(len(hard), np.nan))


def match_jets(jet_event: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray, truth: TruthObjects,
               radius: float) -> np.ndarray:
    """Boolean per jet: True where the jet is matched to a truth object of its class.

    Parameters
    ----------
    jet_event, jet_eta, jet_phi
        Flat jets: event index and axis.
    truth
        Output of :func:`truth_objects` for the same batch.
    radius
        Jet radius R; objects and their decay quarks must lie within ΔR < R.
    """
    jj, tt = np.nonzero(jet_event[:, None] == truth.event[None, :])
    close = kin.delta_r(jet_eta[jj], jet_phi[jj], truth.eta[tt], truth.phi[tt]) < radius
    dq = kin.delta_r(jet_eta[jj, None], jet_phi[jj, None], truth.qeta[tt], truth.qphi[tt])
    contained = np.all(dq < radius, axis=1)
    good = np.zeros(len(jet_event), bool)
    bad = np.zeros(len(jet_event), bool)
    good[jj[close & truth.ok[tt] & contained]] = True
    bad[jj[close & ~truth.ok[tt]]] = True
    return good & ~bad


def parent_mass(jet_event: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray, truth: TruthObjects,
                radius: float) -> np.ndarray:
    """Mass (GeV) of the truth object of its class nearest to each jet within ΔR < R; NaN where none
    (and for q and g, whose objects carry no mass)."""
    out = np.full(len(jet_event), np.nan)
    jj, tt = np.nonzero(jet_event[:, None] == truth.event[None, :])
    dr = kin.delta_r(jet_eta[jj], jet_phi[jj], truth.eta[tt], truth.phi[tt])
    near = (dr < radius) & truth.ok[tt]
    jj, tt, dr = jj[near], tt[near], dr[near]
    order = np.lexsort((dr, jj))  # per jet, nearest first
    jj, tt = jj[order], tt[order]
    first = np.ones(len(jj), bool)
    first[1:] = jj[1:] != jj[:-1]
    out[jj[first]] = truth.mass[tt[first]]
    return out
