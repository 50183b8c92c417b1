"""Truth targets of generated jets (parent mass, particle-level jet), hand-checked on the small 5-class sample.

The sample (``physics_file``: 40 jets per class, default settings, parametric detector) goes through the whole
``tagformer generate`` path (shards, merge, shuffle), so these checks also prove the targets stay aligned with
their jets.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tagformer.data.formats import read_files
from tagformer.data.generate.genjets import TARGET_NAMES, nearest
from tagformer.data.generate.writer import JET_FEATURE_NAMES, read_shard, write_arrays
from tagformer.errors import DataError

PDG_ID = {"w": 24, "z": 23, "t": 6}


def _pythia_line_shape(pid: int) -> tuple[float, float]:
    """Pole mass and width the generator uses (its own particle data, not a copied number)."""
    import pythia8mc

    data = pythia8mc.Pythia("", False).particleData
    return data.m0(pid), data.mWidth(pid)


@pytest.fixture(scope="module")
def arrays(physics_file):
    return read_files([str(physics_file)], "hls4ml")


def _of(arrays, label: str) -> np.ndarray:
    return arrays.labels == arrays.class_names.index(label)


def test_file_stores_named_target_columns_beside_the_hls4ml_layout(physics_file):
    with h5py.File(physics_file, "r") as f:
        assert [n.decode() for n in f["jetTargetNames"][()]] == list(TARGET_NAMES)
        assert f["jetTargets"].shape == (f["jets"].shape[0], len(TARGET_NAMES))
        assert f["jetTargets"].dtype == np.float32
        assert f["jets"].shape[1] == len(JET_FEATURE_NAMES)  # the hls4ml datasets are unchanged


@pytest.mark.parametrize("label", ["w", "z", "t"])
def test_parent_mass_follows_the_breit_wigner(arrays, label):
    m0, width = _pythia_line_shape(PDG_ID[label])
    m = arrays.targets["parent_mass"][_of(arrays, label)]
    assert len(m) == 40 and np.isfinite(m).all()
    # a Breit-Wigner of full width Γ: median m0, interquartile range Γ, ~90% within 3Γ, long tails (a few
    # percent beyond 20Γ, so no hard cut on every jet)
    assert abs(np.median(m) - m0) < width, (label, m0, np.sort(m))
    q1, q3 = np.quantile(m, [0.25, 0.75])
    assert 0.4 * width < q3 - q1 < 2.5 * width, (label, width, q3 - q1)
    assert np.mean(np.abs(m - m0) < 3 * width) > 0.7, (label, m0, np.sort(m))
    assert np.mean(np.abs(m - m0) < 10 * width) > 0.9, (label, m0, np.sort(m))
    np.testing.assert_array_equal(arrays.targets["mass"][_of(arrays, label)], m)  # the default target


@pytest.mark.parametrize("label", ["q", "g"])
def test_qcd_jets_have_no_parent_and_mass_is_particle_level_soft_drop(arrays, label):
    sel = _of(arrays, label)
    assert np.isnan(arrays.targets["parent_mass"][sel]).all()
    np.testing.assert_array_equal(arrays.targets["mass"][sel], arrays.targets["gen_sdmass"][sel])
    assert np.isfinite(arrays.targets["mass"][sel]).all()


def test_particle_level_jet_matches_the_reconstructed_jet(arrays):
    t = arrays.targets
    pt, gen_pt = t["pt"], t["gen_pt"]
    assert np.isfinite(gen_pt).all()
    ratio = gen_pt / pt
    assert np.all(np.abs(ratio - 1) < 0.3), np.sort(ratio)[[0, -1]]
    assert abs(np.median(ratio) - 1) < 0.03
    assert np.all(t["gen_sdmass"] <= t["gen_mass"] * (1 + 1e-5) + 1e-3)
    # detector smearing moves masses, but the particle-level and reconstructed masses stay close on average
    reco_sd = t["sdmass"]
    assert np.median(np.abs(t["gen_sdmass"] - reco_sd)) < 15.0
    assert np.corrcoef(t["gen_mass"], arrays.jet[:, arrays.jet_names.index("mass")])[0, 1] > 0.9


def test_reco_targets_are_the_jet_columns(arrays):
    np.testing.assert_array_equal(arrays.targets["pt"], arrays.jet[:, arrays.jet_names.index("pt")])
    np.testing.assert_array_equal(arrays.targets["sdmass"], arrays.jet[:, arrays.jet_names.index("mass_mmdt")])
    assert not set(TARGET_NAMES) & set(arrays.jet_names)  # truth is never a jet feature (input)


def test_nearest_takes_the_closest_object_in_the_same_event():
    def p4(eta, phi):
        return np.array([[np.cos(f) * 100, np.sin(f) * 100, np.sinh(e) * 100, np.cosh(e) * 100]
                         for e, f in zip(eta, phi, strict=True)])

    a = p4([0.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    b = p4([0.1, 0.05, 0.0, 1.0], [0.0, 0.0, 0.0, 2.0])
    got = nearest(np.array([0, 1, 1]), a, np.array([0, 0, 1, 1]), b, 0.4)
    assert got.tolist() == [1, 2, -1]  # event 0: the nearer one; event 1: jet 3 has nothing within 0.4


def test_a_shard_without_targets_is_refused(tmp_path):
    path = tmp_path / "w-00000.h5"
    write_arrays(path, np.zeros((2, 3, 16), np.float32), np.zeros((2, len(JET_FEATURE_NAMES)), np.float32),
                 {"fingerprint": "x"})
    with pytest.raises(DataError, match=r"older tagformer.*delete it and rerun"):
        read_shard(path, "x", 2)
