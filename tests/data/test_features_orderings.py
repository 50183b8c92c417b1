"""Feature sets, orderings and truncation on arrays with known content."""

from __future__ import annotations

import numpy as np
import pytest

from tagformer import kinematics as kin
from tagformer.data.features import FEATURE_SETS, feature_names
from tagformer.data.formats import read_files
from tagformer.data.formats.base import JetArrays
from tagformer.data.orderings import ORDERINGS, morton_code
from tagformer.data.pipeline import prepare


def _arrays(writers, n=6, p=20, seed=0) -> JetArrays:
    t = writers.make_jets(n, p, 3, seed=seed)
    return JetArrays(p4=t.p4, mask=t.mask, labels=t.labels, class_names=["a", "b", "c"], format="test",
                     sources=["mem"])


def test_ptetaphi_from_p4(writers):
    arrays = _arrays(writers)
    prep = prepare(arrays, "ptetaphi", 20, "pt")
    jet = arrays.p4.sum(axis=1)
    real = arrays.mask
    np.testing.assert_allclose(prep.features[..., 0][real], kin.pt(arrays.p4)[real], rtol=1e-5)
    deta = kin.eta(arrays.p4) - kin.eta(jet)[:, None]
    np.testing.assert_allclose(prep.features[..., 1][real], deta[real], atol=1e-5)
    assert (prep.features[~prep.mask] == 0).all()


def test_ptetaphi_uses_stored_hls4ml_columns(tmp_path, writers):
    path = str(tmp_path / "h.h5")
    writers.hls4ml(path, n=5, p=30)
    arrays = read_files([path], "hls4ml")
    prep = prepare(arrays, "ptetaphi", 30, "pt")
    stored = arrays.extras["hls4ml16"][..., [5, 8, 11]]
    np.testing.assert_array_equal(prep.features[prep.mask], stored[arrays.mask])
    h16 = prepare(arrays, "hls4ml16", 30, "pt")
    np.testing.assert_array_equal(h16.features[h16.mask], arrays.extras["hls4ml16"][arrays.mask])


def test_part_kin_definitions(writers):
    arrays = _arrays(writers)
    f = prepare(arrays, "part_kin", 20, "pt").features
    names = feature_names("part_kin")
    jet = arrays.p4.sum(axis=1)
    real = arrays.mask
    pt = kin.pt(arrays.p4)
    np.testing.assert_allclose(f[..., names.index("log_pt")][real], np.log(pt[real]), rtol=1e-5)
    np.testing.assert_allclose(f[..., names.index("log_e_rel")][real],
                               np.log((arrays.p4[..., 3] / jet[:, None, 3])[real]), rtol=1e-4, atol=1e-5)
    dr = np.hypot(f[..., names.index("deta")], f[..., names.index("dphi")])
    np.testing.assert_allclose(f[..., names.index("delta_r")], dr, rtol=1e-5)


def test_part_full_from_jetclass(tmp_path, writers):
    path = str(tmp_path / "j.root")
    writers.jetclass(path, n=5)
    arrays = read_files([path], "jetclass")
    prep = prepare(arrays, "part_full", 32, "pt")
    assert prep.features.shape == (5, 32, 17)
    names = feature_names("part_full")
    real = prep.mask
    assert np.isin(prep.features[..., names.index("isPhoton")][real], (0, 1)).all()
    assert np.abs(prep.features[..., names.index("tanh_d0")]).max() < 1


@pytest.mark.parametrize("name", list(FEATURE_SETS))
def test_every_feature_set_on_jetclass_is_finite(tmp_path, writers, name):
    path = str(tmp_path / "j.root")
    writers.jetclass(path, n=4)
    prep = prepare(read_files([path], "jetclass"), name, 16, "pt")
    assert prep.features.shape == (4, 16, len(FEATURE_SETS[name]))
    assert np.isfinite(prep.features).all()


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_orderings_consistent_across_features_p4_mask(writers, ordering):
    arrays = _arrays(writers, n=8, p=20)
    prep = prepare(arrays, "ptetaphi", 20, ordering, np.random.default_rng(1))
    # the same particles survive, and features stay attached to their own four-momenta
    np.testing.assert_array_equal(prep.mask.sum(1), arrays.mask.sum(1))
    assert not (prep.mask[:, 1:] & ~prep.mask[:, :-1]).any()  # padding last
    real = prep.mask
    np.testing.assert_allclose(prep.features[..., 0][real], kin.pt(prep.p4)[real], rtol=1e-5)
    jet = arrays.p4.sum(axis=1)
    deta = kin.eta(prep.p4) - kin.eta(jet)[:, None]
    dphi = kin.delta_phi(kin.phi(prep.p4), kin.phi(jet)[:, None])
    key = {"pt": -kin.pt(prep.p4), "kt": -kin.pt(prep.p4) * np.hypot(deta, dphi),
           "deltaR": np.hypot(deta, dphi), "eta": deta,
           "morton": morton_code(deta, dphi).astype(float)}.get(ordering)
    for j in range(len(arrays)):
        k = int(real[j].sum())
        if key is not None:
            assert (np.diff(key[j, :k]) >= -1e-5).all()
        np.testing.assert_allclose(np.sort(kin.pt(prep.p4)[j, :k]), np.sort(kin.pt(arrays.p4)[j][arrays.mask[j]]),
                                   rtol=1e-6)


def test_random_ordering_is_seeded(writers):
    arrays = _arrays(writers)
    a = prepare(arrays, "ptetaphi", 20, "random", np.random.default_rng(5)).p4
    b = prepare(arrays, "ptetaphi", 20, "random", np.random.default_rng(5)).p4
    c = prepare(arrays, "ptetaphi", 20, "pt").p4
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_morton_code_interleaves_bits():
    # cell (1, 0) in (eta, phi) -> eta bit goes to position 1; (0, 1) -> position 0
    half = 32 * 0.05
    assert morton_code(np.array(-half + 0.07), np.array(-half + 0.01)) == 2
    assert morton_code(np.array(-half + 0.01), np.array(-half + 0.07)) == 1
    assert morton_code(np.array(-half + 0.07), np.array(-half + 0.07)) == 3


def test_truncation_keeps_hardest_and_counts_dropped(writers):
    arrays = _arrays(writers, n=10, p=20)
    n_keep = 5
    prep = prepare(arrays, "ptetaphi", n_keep, "deltaR")
    pt = kin.pt(arrays.p4)
    n_real = arrays.mask.sum(1)
    for j in range(len(arrays)):
        hardest = np.sort(pt[j][arrays.mask[j]])[::-1][:n_keep]
        np.testing.assert_allclose(np.sort(kin.pt(prep.p4[j])[prep.mask[j]])[::-1], hardest, rtol=1e-6)
    s = prep.stats
    assert s.particles == n_real.sum()
    assert s.particles_dropped == np.clip(n_real - n_keep, 0, None).sum()
    assert s.jets_truncated == (n_real > n_keep).sum()
    kept_pt = kin.pt(prep.p4)[prep.mask].sum()
    assert s.pt_fraction_dropped == pytest.approx(1 - kept_pt / pt[arrays.mask].sum(), rel=1e-5)


def test_padding_to_more_particles_than_stored(writers):
    arrays = _arrays(writers, n=3, p=8)
    prep = prepare(arrays, "part_kin", 12, "pt")
    assert prep.features.shape == (3, 12, 7) and prep.p4.shape == (3, 12, 4) and prep.mask.shape == (3, 12)
    assert not prep.mask[:, 8:].any() and prep.stats.particles_dropped == 0
