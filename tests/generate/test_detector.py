"""Parametric detector: resolutions, neutrino removal, calorimeter grids, energy bookkeeping."""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate.detector import apply_detector, particle_level, resolution


def _particles(rng, n=400, n_events=4):
    ptv = rng.exponential(20.0, n) + 0.5
    p4 = kin.from_pt_eta_phi(ptv, rng.uniform(-2.5, 2.5, n), rng.uniform(-np.pi, np.pi, n))
    pid = rng.choice([211, -211, 22, 2112, 130, 12, -14, 11, 321, 2212], n)
    event = np.sort(rng.integers(0, n_events, n))
    return p4, pid, event


def test_resolution_formulas():
    p4 = np.array([[100.0, 0, 0, 100.0]] * 3)
    sigma = resolution(np.array([0, 1, 2]), p4)
    assert np.isclose(sigma[0], np.hypot(0.00025 * 100, 0.015))
    assert np.isclose(sigma[1], np.sqrt((0.027 / np.sqrt(100 / 1.6)) ** 2 + (0.15 * 1.6 / 100) ** 2 + 0.005**2))
    assert np.isclose(sigma[2], np.hypot(1.2 / np.sqrt(100 / 7), 0.05))


def test_particle_level_only_drops_neutrinos():
    rng = np.random.default_rng(0)
    p4, pid, event = _particles(rng)
    out = particle_level(p4, pid, event, 4)
    assert len(out.p4) == np.sum(~np.isin(np.abs(pid), [12, 14, 16]))
    assert out.counts().sum() == len(out.p4)


def test_detector_grids_neutrals_and_keeps_charged():
    rng = np.random.default_rng(1)
    p4, pid, event = _particles(rng)
    out = apply_detector(p4, pid, event, 4, np.random.default_rng(2), ecal_cell=0.1, hcal_cell=0.3)
    assert np.all(np.diff(out.event) >= 0), "particles must stay sorted by event"
    n_charged = np.isin(np.abs(pid), [211, 11, 321, 2212]).sum()
    neutral = np.isin(np.abs(pid), [22, 2112, 130])
    assert n_charged < len(out.p4) <= n_charged + neutral.sum()
    # smearing is centred: the visible energy per event is close to the true visible energy
    vis = ~np.isin(np.abs(pid), [12, 14, 16])
    true_e = np.bincount(event[vis], weights=p4[vis, 3], minlength=4)
    reco_e = np.bincount(out.event, weights=out.p4[:, 3], minlength=4)
    assert np.allclose(reco_e, true_e, rtol=0.1)


def test_grid_cells_sum_energy_exactly_without_smearing_spread():
    # two photons in the same ECAL cell merge into one massless particle with the summed energy
    p4 = kin.from_pt_eta_phi(np.array([10.0, 20.0]), np.array([0.501, 0.502]), np.array([1.001, 1.002]))
    out = apply_detector(p4, np.array([22, 22]), np.array([0, 0]), 1, np.random.default_rng(0), ecal_cell=0.05)
    assert len(out.p4) == 1
    assert np.isclose(out.p4[0, 3], p4[:, 3].sum(), rtol=0.05)
    assert np.isclose(kin.mass(out.p4[:1])[0], 0.0, atol=1e-6)


def test_detector_is_deterministic_given_the_rng():
    rng = np.random.default_rng(3)
    p4, pid, event = _particles(rng)
    a = apply_detector(p4, pid, event, 4, np.random.default_rng(9))
    b = apply_detector(p4, pid, event, 4, np.random.default_rng(9))
    assert np.array_equal(a.p4, b.p4) and np.array_equal(a.event, b.event)
