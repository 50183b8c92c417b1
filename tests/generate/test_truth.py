"""Truth matching on hand-built Pythia-like event records."""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate.record import EventRecord
from tagformer.data.generate.truth import match_jets, truth_objects


def _record(rows):
    """rows: (id, status, daughter1, daughter2, pt, eta, phi, m) per particle of one event (local indices)."""
    return np.array(rows, dtype=float)


def _events(*records):
    counts = np.array([len(r) for r in records])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    event = np.repeat(np.arange(len(records)), counts)
    arr = np.concatenate(records)
    start = offsets[:-1][event]
    d1, d2 = arr[:, 2].astype(np.int64), arr[:, 3].astype(np.int64)
    return EventRecord(id=arr[:, 0].astype(np.int32), status=arr[:, 1].astype(np.int32),
                       daughter1=np.where(d1 > 0, d1 + start, -1), daughter2=np.where(d2 > 0, d2 + start, -1),
                       p4=kin.from_pt_eta_phi(arr[:, 4], arr[:, 5], arr[:, 6], arr[:, 7]), event=event,
                       offsets=offsets)


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
    assert truth.event.tolist() == [0, 1] and truth.qeta.shape == (2, 2)
    matched = match_jets(np.array([0, 0, 1]), np.array([0.5, -0.5, 0.5]), np.array([1.0, -2.1, 1.0]), truth, 0.8)
    assert matched.tolist() == [True, False, False]


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
    assert truth.qeta.shape == (2, 3)
    assert np.allclose(truth.qeta[0], [-0.2, 0.2, 0.0]), "b, then the quarks of the last W copy"
    matched = match_jets(np.array([0, 1]), np.zeros(2), np.zeros(2), truth, 0.8)
    assert matched.tolist() == [True, False]


def test_quark_and_gluon_matching_by_flavour():
    record = _record([
        (90, -11, 0, 0, 0.0, 0.0, 0.0, 0.0),
        (21, -23, 0, 0, 1000.0, 0.0, 0.0, 0.0),
        (2, -23, 0, 0, 1000.0, 0.0, np.pi - 0.05, 0.0),
        (5, -23, 0, 0, 50.0, 1.8, 1.5, 0.0),
    ])
    events = _events(record)
    jet_event, jet_eta, jet_phi = np.zeros(3, int), np.array([0.1, 0.0, 1.8]), np.array([0.1, np.pi - 0.1, 1.5])
    assert match_jets(jet_event, jet_eta, jet_phi, truth_objects(events, "g"), 0.8).tolist() == [True, False, False]
    assert match_jets(jet_event, jet_eta, jet_phi, truth_objects(events, "q"), 0.8).tolist() == [False, True, False]
