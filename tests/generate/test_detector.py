"""Parametric detector: resolutions, neutrino removal, calorimeter grids, energy bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from tagformer import kinematics as kin
from tagformer.data.generate.detector import apply_detector, calorimeter_cells, particle_level, resolution


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


def _same_directions_in_every_event(n_events: int = 100, per_event: int = 20, seed: int = 4):
    """Photons at the same 20 directions in each of 100 events: any grouping across events would merge them."""
    rng = np.random.default_rng(seed)
    eta = np.tile(rng.uniform(-2.9, 2.9, per_event), n_events)
    phi = np.tile(rng.uniform(-np.pi, np.pi, per_event), n_events)
    p4 = kin.from_pt_eta_phi(rng.exponential(10.0, n_events * per_event) + 1.0, eta, phi)
    return p4, np.repeat(np.arange(n_events), per_event), n_events


def _packed_key_cells(p4, event, cell, eta_max):
    """The former grouping: one int64 key (event * n_eta + i_eta) * n_phi + i_phi (right while it fits)."""
    n_eta, n_phi = max(1, round(2 * eta_max / cell)), max(1, round(2 * np.pi / cell))
    i_eta = np.clip(((kin.eta(p4) + eta_max) / (2 * eta_max / n_eta)).astype(np.int64), 0, n_eta - 1)
    i_phi = np.clip(((np.arctan2(p4[:, 1], p4[:, 0]) + np.pi) / (2 * np.pi / n_phi)).astype(np.int64), 0, n_phi - 1)
    cells, inverse = np.unique((event * n_eta + i_eta) * n_phi + i_phi, return_inverse=True)
    return cells // (n_phi * n_eta), np.bincount(inverse, weights=p4[:, 3], minlength=len(cells))


@pytest.mark.parametrize("cell", [0.0174, 0.087, 0.5])
def test_cells_match_the_packed_key_grouping_where_it_fits(cell):
    p4, event, n_events = _same_directions_in_every_event()
    out = calorimeter_cells(p4, event, cell, 3.0, n_events)
    want_event, want_energy = _packed_key_cells(p4, event, cell, 3.0)
    assert np.array_equal(out.event, want_event) and np.array_equal(out.p4[:, 3], want_energy)


@pytest.mark.parametrize("cell", [1e-8, 1e-9])
def test_tiny_cells_never_mix_events(cell):
    p4, event, n_events = _same_directions_in_every_event()
    n_eta, n_phi = round(6.0 / cell), round(2 * np.pi / cell)
    assert n_events * n_eta * n_phi > 2**63, "the packed int64 key overflows here (the bug this guards)"
    out = calorimeter_cells(p4, event, cell, 3.0, n_events)
    assert np.all(np.diff(out.event) >= 0) and np.array_equal(out.counts(), np.full(n_events, 20))
    np.testing.assert_allclose(np.bincount(out.event, weights=out.p4[:, 3]),
                               np.bincount(event, weights=p4[:, 3]), rtol=1e-12)
    np.testing.assert_allclose(np.sort(out.p4[:, 3]), np.sort(p4[:, 3]), rtol=1e-12)  # one photon per cell


def test_tiny_cells_through_the_whole_detector():
    # the smearing draws do not depend on the cells, and cells conserve each event's energy
    rng = np.random.default_rng(5)
    p4, pid, event = _particles(rng, n=3000, n_events=100)
    tiny = apply_detector(p4, pid, event, 100, np.random.default_rng(6), ecal_cell=1e-9, hcal_cell=1e-8)
    usual = apply_detector(p4, pid, event, 100, np.random.default_rng(6))
    np.testing.assert_allclose(np.bincount(tiny.event, weights=tiny.p4[:, 3], minlength=100),
                               np.bincount(usual.event, weights=usual.p4[:, 3], minlength=100), rtol=1e-12)
    assert len(tiny.p4) > len(usual.p4)
