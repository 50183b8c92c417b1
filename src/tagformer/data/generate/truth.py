"""Truth labels: match reconstructed jets to the generator-level object of their class.

- W, Z, t: the last copy of the boson/top (after its recoil copies in the shower) must lie within
  ΔR < R of the jet axis, and so must all its decay quarks (W/Z → q q'; t → b q q' through the last
  copy of its W). Decay quarks are taken where the resonance decays (status ±23).
- q, g: the hard-process outgoing partons (status -23; the QCD samples have no resonances). A jet is
  matched if a parton of its class flavour (g: gluon; q: u, d, s, c) lies within ΔR < R and no hard parton
  of another flavour does.

Jets that do not match are dropped by the caller, never relabelled.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

#: PDG id of the resonance of each heavy class.
RESONANCE_ID = {"w": 24, "z": 23, "t": 6}
#: Flavours counted as a light-quark jet (u, d, s, c; b jets are not "q").
LIGHT_QUARKS = (1, 2, 3, 4)
_MAX_COPIES = 200


def _last_copy(prt: ak.Array, idx: ak.Array) -> ak.Array:
    """Follow recoil copies (daughter1 == same id) from ``idx`` to the last copy, vectorised."""
    for _ in range(_MAX_COPIES):
        nxt = prt.daughter1[idx]
        cont = (nxt > 0) & (prt.id[nxt] == prt.id[idx])
        if not ak.any(cont):
            return idx
        idx = ak.where(cont, nxt, idx)
    return idx


def _stack(*arrays: ak.Array) -> ak.Array:
    return ak.concatenate([a[..., np.newaxis] for a in arrays], axis=-1)


def truth_objects(prt: ak.Array, label: str) -> ak.Array:
    """Per event, the truth objects of class ``label``.

    Returns
    -------
    ak.Array
        (events, objects) records ``eta, phi, ok, qeta, qphi``: direction, whether the object has the
        class flavour, and the directions of its decay quarks (empty for q/g partons).
    """
    local = ak.local_index(prt.id)
    if label in RESONANCE_ID:
        rid = RESONANCE_ID[label]
        aid = abs(prt.id)
        last = (aid == rid) & (abs(prt.id[prt.daughter1]) != rid)
        res = local[last]
        d1, d2 = prt.daughter1[res], prt.daughter2[res]
        if label == "t":
            first_is_w = abs(prt.id[d1]) == 24
            w = _last_copy(prt, ak.where(first_is_w, d1, d2))
            b = ak.where(first_is_w, d2, d1)
            quarks = _stack(b, prt.daughter1[w], prt.daughter2[w])
        else:
            quarks = _stack(d1, d2)
        n_q = 3 if label == "t" else 2
        obj_p, q_p = prt.p[res], prt.p[ak.flatten(quarks, axis=2)]
        qeta, qphi = (ak.unflatten(x, n_q, axis=1) for x in (q_p.eta, q_p.phi))
        ok = ak.ones_like(res, dtype=bool)
        return ak.zip({"eta": obj_p.eta, "phi": obj_p.phi, "ok": ok, "qeta": qeta, "qphi": qphi},
                      depth_limit=2)
    hard = local[prt.status == -23]
    pid = abs(prt.id[hard])
    ok = (pid == 21) if label == "g" else np.isin(ak.to_numpy(ak.flatten(pid)), LIGHT_QUARKS)
    if label != "g":
        ok = ak.unflatten(ok, ak.num(pid))
    obj_p = prt.p[hard]
    empty = ak.unflatten(ak.unflatten(np.zeros(0), np.zeros(len(ak.flatten(hard)), np.int64)), ak.num(hard))
    return ak.zip({"eta": obj_p.eta, "phi": obj_p.phi, "ok": ok, "qeta": empty, "qphi": empty}, depth_limit=2)


def _dr(eta1: ak.Array, phi1: ak.Array, eta2: ak.Array, phi2: ak.Array) -> ak.Array:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.sqrt((eta1 - eta2) ** 2 + dphi**2)


def match_jets(jet_eta: ak.Array, jet_phi: ak.Array, truth: ak.Array, radius: float) -> ak.Array:
    """Boolean (events, jets): True where the jet is matched to a truth object of its class.

    Parameters
    ----------
    jet_eta, jet_phi
        (events, jets) jet axes.
    truth
        Output of :func:`truth_objects` for the same events.
    radius
        Jet radius R; objects and their decay quarks must lie within ΔR < R.
    """
    jets = ak.zip({"eta": jet_eta, "phi": jet_phi})
    pairs = ak.cartesian({"j": jets, "t": truth}, nested=True)
    j, t = pairs.j, pairs.t
    close = _dr(j.eta, j.phi, t.eta, t.phi) < radius
    contained = ak.all(_dr(j.eta, j.phi, t.qeta, t.qphi) < radius, axis=-1)
    good = ak.any(close & t.ok & contained, axis=-1)
    bad = ak.any(close & ~t.ok, axis=-1)
    return good & ~bad
