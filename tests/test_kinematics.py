from __future__ import annotations

import numpy as np

from tagformer import kinematics as k


def test_round_trip_pt_eta_phi_mass():
    rng = np.random.default_rng(1)
    pt, eta, phi, m = rng.uniform(1, 500, 50), rng.uniform(-3, 3, 50), rng.uniform(-np.pi, np.pi, 50), 0.13957
    p4 = k.from_pt_eta_phi(pt, eta, phi, m)
    np.testing.assert_allclose(k.pt(p4), pt, rtol=1e-10)
    np.testing.assert_allclose(k.eta(p4), eta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(k.phi(p4), phi, rtol=1e-10)
    np.testing.assert_allclose(k.mass(p4), m, rtol=1e-5)


def test_known_masses():
    # W at rest and a Z boosted along z: invariant masses 80.4 and 91.2 GeV.
    w = np.array([0.0, 0.0, 0.0, 80.4])
    z = np.array([0.0, 0.0, 300.0, np.hypot(300.0, 91.2)])
    assert np.isclose(k.mass(w), 80.4) and np.isclose(k.mass(z), 91.2)
    # Two back-to-back massless 40.2 GeV photons make 80.4 GeV.
    pair = k.from_pt_eta_phi(np.array([40.2, 40.2]), np.array([0.0, 0.0]), np.array([0.0, np.pi])).sum(0)
    assert np.isclose(k.mass(pair), 80.4)


def test_zero_vectors_are_finite_and_phi_wraps():
    zero = np.zeros((3, 4))
    assert np.all(k.eta(zero) == 0) and np.all(k.rapidity(zero) == 0) and np.all(k.mass(zero) == 0)
    np.testing.assert_allclose(k.delta_phi(np.array([3.0]), np.array([-3.0])), [6.0 - 2 * np.pi])
    assert np.isclose(k.delta_r(0.0, np.pi - 0.05, 0.0, -np.pi + 0.05), 0.1)


def test_rapidity_equals_eta_for_massless():
    p4 = k.from_pt_eta_phi(np.array([10.0, 50.0]), np.array([0.5, -2.0]), np.array([0.1, 1.0]))
    np.testing.assert_allclose(k.rapidity(p4), k.eta(p4), atol=1e-9)
