"""Truth matching on hand-built Pythia-like event records."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from tagformer import kinematics as kin
from tagformer.data.generate.truth import match_jets, truth_objects

vector = pytest.importorskip("vector")


def _record(rows):
    """rows: (id, status, daughter1, daughter2, pt, eta, phi, m) per particle of one event."""
    arr = np.array(rows, dtype=float)
    p4 = kin.from_pt_eta_phi(arr[:, 4], arr[:, 5], arr[:, 6], arr[:, 7])
    return {"id": arr[:, 0].astype(np.int32), "status": arr[:, 1].astype(np.int32),
            "daughter1": arr[:, 2].astype(np.int32), "daughter2": arr[:, 3].astype(np.int32), "p4": p4}


def _events(*records):
    vector.register_awkward()
    out = []
    for r in records:
        p = [{"px": a, "py": b, "pz": c, "e": d} for a, b, c, d in r["p4"]]
        out.append([{"id": i, "status": s, "daughter1": d1, "daughter2": d2, "p": pp}
                    for i, s, d1, d2, pp in zip(r["id"], r["status"], r["daughter1"], r["daughter2"], p)])
    arr = ak.Array(out)
    return ak.zip({"id": arr.id, "status": arr.status, "daughter1": arr.daughter1, "daughter2": arr.daughter2,
                   "p": ak.zip({f: arr.p[f] for f in ("px", "py", "pz", "e")}, with_name="Momentum4D")})


def _w_event(quark2_phi):
    return _record([
        (90, -11, 0, 0, 0.0, 0.0, 0.0, 0.0),
        (24, -22, 2, 2, 1000.0, 0.5, 1.0, 80.4),     # hard-process W
        (24, -44, 3, 4, 1000.0, 0.5, 1.0, 80.4),     # its recoil copy = last copy
        (2, 23, 0, 0, 600.0, 0.6, 1.1, 0.0),         # decay quarks
        (-1, 23, 0, 0, 400.0, 0.4, quark2_phi, 0.0),
        (21, -23, 0, 0, 1000.0, -0.5, -2.1, 0.0),    # recoiling gluon
    ])


def test_w_jet_matched_only_when_both_quarks_are_inside():
    events = _events(_w_event(0.9), _w_event(1.0 + 0.9))
    truth = truth_objects(events, "w")
    assert ak.to_list(ak.num(truth)) == [1, 1]
    jet_eta = ak.Array([[0.5, -0.5], [0.5]])
    jet_phi = ak.Array([[1.0, -2.1], [1.0]])
    matched = match_jets(jet_eta, jet_phi, truth, 0.8)
    assert ak.to_list(matched) == [[True, False], [False]]


def test_top_uses_b_and_the_last_w_copy():
    def top(b_eta):
        return _record([
            (90, -11, 0, 0, 0.0, 0.0, 0.0, 0.0),
            (6, -22, 2, 2, 1000.0, 0.0, 0.0, 172.5),
            (6, -62, 3, 4, 1000.0, 0.0, 0.0, 172.5),  # last top copy -> W, b
            (24, -22, 5, 5, 600.0, 0.1, 0.1, 80.4),
            (5, -23, 0, 0, 400.0, b_eta, -0.1, 4.8),
            (24, -62, 6, 7, 600.0, 0.1, 0.1, 80.4),   # last W copy -> quarks
            (1, 23, 0, 0, 300.0, 0.2, 0.3, 0.0),
            (-2, 23, 0, 0, 300.0, 0.0, -0.1, 0.0),
        ])

    events = _events(top(-0.2), top(1.5))
    truth = truth_objects(events, "t")
    assert ak.to_list(ak.num(truth.qeta, axis=2)) == [[3], [3]]
    matched = match_jets(ak.Array([[0.0], [0.0]]), ak.Array([[0.0], [0.0]]), truth, 0.8)
    assert ak.to_list(matched) == [[True], [False]]


def test_quark_and_gluon_matching_by_flavour():
    record = _record([
        (90, -11, 0, 0, 0.0, 0.0, 0.0, 0.0),
        (21, -23, 0, 0, 1000.0, 0.0, 0.0, 0.0),
        (2, -23, 0, 0, 1000.0, 0.0, np.pi - 0.05, 0.0),
        (5, -23, 0, 0, 50.0, 1.8, 1.5, 0.0),
    ])
    events = _events(record)
    jet_eta = ak.Array([[0.1, 0.0, 1.8]])
    jet_phi = ak.Array([[0.1, np.pi - 0.1, 1.5]])
    assert ak.to_list(match_jets(jet_eta, jet_phi, truth_objects(events, "g"), 0.8)) == [[True, False, False]]
    assert ak.to_list(match_jets(jet_eta, jet_phi, truth_objects(events, "q"), 0.8)) == [[False, True, False]]
