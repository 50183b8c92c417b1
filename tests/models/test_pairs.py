"""Pair features against hand-computed values; eps handling; real-pair indexing."""

from __future__ import annotations

import math

import numpy as np
import torch

from tagformer.models.layers.pairs import PAIR_FEATURES, pair_features, real_pair_index


def test_known_massless_pair():
    # two massless 10 GeV particles at y = 0, phi = 0 and phi = pi/2
    p4 = torch.tensor([[[10.0, 0.0, 0.0, 10.0], [0.0, 10.0, 0.0, 10.0]]])
    f = pair_features(p4, torch.ones(1, 2, dtype=torch.bool))[0, 0, 1]
    got = dict(zip(PAIR_FEATURES, f.tolist()))
    m2 = 20.0**2 - (10.0**2 + 10.0**2)  # (E1+E2)^2 - |p1+p2|^2 = 200
    assert math.isclose(got["ln_m2"], math.log(m2), rel_tol=1e-5)
    assert math.isclose(got["ln_delta_r"], math.log(math.pi / 2), rel_tol=1e-5)
    assert math.isclose(got["ln_kt"], math.log(10.0 * math.pi / 2), rel_tol=1e-5)
    assert math.isclose(got["ln_z"], math.log(0.5), rel_tol=1e-5)


def test_massive_pair_against_numpy():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(2, 3)) * 20
    masses = np.array([0.14, 0.5])
    e = np.sqrt((p**2).sum(1) + masses**2)
    p4 = np.concatenate([p, e[:, None]], 1)
    s = p4[0] + p4[1]
    m2 = s[3] ** 2 - (s[:3] ** 2).sum()
    pt = np.hypot(p[:, 0], p[:, 1])
    y = 0.5 * np.log((e + p[:, 2]) / (e - p[:, 2]))
    phi = np.arctan2(p[:, 1], p[:, 0])
    dphi = (phi[0] - phi[1] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(y[0] - y[1], dphi)
    want = [np.log(min(pt) * dr), np.log(min(pt) / pt.sum()), np.log(dr), np.log(m2)]
    got = pair_features(torch.tensor(p4, dtype=torch.float64)[None], torch.ones(1, 2, dtype=torch.bool))
    np.testing.assert_allclose(got[0, 0, 1].numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(got[0, 1, 0].numpy(), want, rtol=1e-6)  # symmetric


def test_identical_and_padded_particles_are_finite():
    p4 = torch.tensor([[[5.0, 1.0, 2.0, 6.0], [5.0, 1.0, 2.0, 6.0], [1e3, -7e2, 3e3, -50.0]]])
    mask = torch.tensor([[True, True, False]])
    f = pair_features(p4, mask)
    assert torch.isfinite(f).all()
    assert math.isclose(f[0, 0, 1, PAIR_FEATURES.index("ln_delta_r")].item(), math.log(1e-8), rel_tol=1e-5)


def test_real_pair_index_counts_lower_triangle():
    mask = torch.tensor([[True, True, True, False], [True, False, False, False]])
    b, i, j = real_pair_index(mask)
    assert (i >= j).all()
    assert b.tolist().count(0) == 6 and b.tolist().count(1) == 1
