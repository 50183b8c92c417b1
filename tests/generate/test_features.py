"""The 16 hls4ml constituent features on hand-built jets."""

from __future__ import annotations

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.generate.features import PARTICLE_FEATURE_NAMES, constituent_features

IDX = {n.removeprefix("j1_"): i for i, n in enumerate(PARTICLE_FEATURE_NAMES)}


def _jets(seed=0, n=3, p=12):
    rng = np.random.default_rng(seed)
    ptv = np.sort(rng.exponential(50, (n, p)), axis=1)[:, ::-1] + 1
    etav = rng.normal(0.3, 0.2, (n, p))
    phiv = kin.wrap_phi(rng.normal(3.0, 0.2, (n, p)))  # across the phi = pi boundary
    p4 = kin.from_pt_eta_phi(ptv, etav, phiv)
    mask = np.arange(p)[None] < np.array([p, 5, 1])[:, None]
    p4 = np.where(mask[..., None], p4, 0.0)
    return p4, mask, p4.sum(axis=1)


def test_names_and_shape():
    p4, mask, jet = _jets()
    feats = constituent_features(p4, mask, jet)
    assert feats.shape == (3, 12, 16) and feats.dtype == np.float32
    assert [n.removeprefix("j1_") for n in PARTICLE_FEATURE_NAMES][:4] == ["px", "py", "pz", "e"]
    assert np.all(feats[~mask] == 0)


def test_relative_features_are_consistent():
    p4, mask, jet = _jets()
    f = constituent_features(p4, mask, jet).astype(np.float64)
    assert np.allclose(f[..., IDX["erel"]].sum(1), 1.0, atol=1e-5)
    assert np.allclose(f[..., IDX["ptrel"]], f[..., IDX["pt"]] / kin.pt(jet)[:, None], rtol=1e-5)
    assert np.allclose(f[mask][:, IDX["etarel"]], (f[..., IDX["eta"]] - kin.eta(jet)[:, None])[mask], atol=1e-5)
    assert np.all(np.abs(f[..., IDX["phirel"]]) < 1.5), "phirel must be wrapped across the boundary"
    dr = np.hypot(f[..., IDX["etarel"]], f[..., IDX["phirel"]])
    assert np.allclose(f[..., IDX["deltaR"]], dr, atol=1e-5)
    # the rotation about the jet axis preserves distances to it
    assert np.allclose(np.hypot(f[..., IDX["etarot"]], f[..., IDX["phirot"]]), dr, atol=1e-5)
    assert np.all(f[mask][:, IDX["costhetarel"]] <= 1 + 1e-6)
    assert np.all(f[mask][:, IDX["costhetarel"]] > 0.8)


def test_rotation_aligns_the_principal_axis_with_eta():
    # constituents spread along the line phi = eta: after rotation they lie on the eta axis
    t = np.linspace(-0.3, 0.3, 7)
    p4 = kin.from_pt_eta_phi(np.array([10, 20, 30, 40, 30, 20, 15.0]), t, t)[None]
    mask = np.ones((1, 7), bool)
    f = constituent_features(p4, mask, p4.sum(1))
    assert np.allclose(f[0, :, IDX["phirot"]], 0.0, atol=0.02)
    assert np.abs(f[0, :, IDX["etarot"]]).max() > 0.3
