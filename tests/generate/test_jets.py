"""Clustering and jet observables (FastJet soft drop and N-subjettiness) on hand-built jets."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from tagformer import kinematics as kin
from tagformer.data.generate.detector import Particles
from tagformer.data.generate.jets import OBSERVABLE_NAMES, cluster, observables

pytest.importorskip("fastjet")
COL = {n: i for i, n in enumerate(OBSERVABLE_NAMES)}


def _constituents(jets):
    import vector

    vector.register_awkward()
    return ak.Array([[{"px": a, "py": b, "pz": c, "E": d} for a, b, c, d in j] for j in jets],
                    with_name="Momentum4D")


def test_two_prong_jet_keeps_its_mass_and_has_small_tau21():
    two = kin.from_pt_eta_phi(np.array([500.0, 500.0]), np.array([0.0, 0.1]), np.array([0.0, 0.1]))
    soft = kin.from_pt_eta_phi(np.array([1.0]), np.array([0.6]), np.array([-0.5]))
    three = np.concatenate([two, soft])
    one = kin.from_pt_eta_phi(np.array([300.0, 200.0, 100.0]), np.array([0.0, 0.3, -0.2]),
                              np.array([0.0, 0.2, -0.3]))
    cons = _constituents([two, three, one])
    jet_p4 = np.stack([two.sum(0), three.sum(0), one.sum(0)])
    obs = observables(cons, jet_p4, radius=0.8)
    assert obs.shape == (3, len(OBSERVABLE_NAMES))
    assert np.allclose(obs[:, COL["j_mass"]], kin.mass(jet_p4))
    assert np.allclose(obs[:, COL["j_pt"]], kin.pt(jet_p4))
    assert np.isclose(obs[0, COL["j_mass_mmdt"]], obs[0, COL["j_mass"]], rtol=1e-6)
    # soft drop grooms the soft wide-angle particle away: back to the two-prong mass
    assert obs[1, COL["j_mass"]] > obs[1, COL["j_mass_mmdt"]]
    assert np.isclose(obs[1, COL["j_mass_mmdt"]], obs[0, COL["j_mass"]], rtol=1e-6)
    assert obs[0, COL["j_tau21_b1"]] < 0.05 < obs[2, COL["j_tau21_b1"]] <= 1.0
    assert np.allclose(obs[:, COL["j_tau21_b1"]], obs[:, COL["j_tau2_b1"]] / obs[:, COL["j_tau1_b1"]])
    assert obs[:, COL["j_multiplicity"]].tolist() == [2, 3, 3]


def test_cluster_orders_and_cuts_jets():
    rng = np.random.default_rng(0)
    sprays = []
    for pt0, eta0, phi0 in [(600.0, 0.5, 0.0), (900.0, -0.5, 3.0), (700.0, 2.6, 1.5)]:
        z = rng.dirichlet(np.ones(20))
        sprays.append(kin.from_pt_eta_phi(pt0 * z, eta0 + rng.normal(0, 0.05, 20), phi0 + rng.normal(0, 0.05, 20)))
    p4 = np.concatenate(sprays)
    parts = Particles(p4, np.zeros(len(p4), np.int64), 1)
    jet_p4, jet_event, cons = cluster(parts, "antikt", 0.8, pt_min=100.0, eta_max=2.0, max_jets=2)
    pts = kin.pt(jet_p4)
    assert len(pts) == 2 and pts[0] > pts[1] > 500 and jet_event.tolist() == [0, 0]
    assert ak.to_list(ak.num(cons, axis=1)) == [20, 20]
    _, _, one = cluster(parts, "antikt", 0.8, pt_min=100.0, eta_max=2.0, max_jets=1)
    assert len(one) == 1
