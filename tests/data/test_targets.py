"""Per-jet targets by name: what each reader exposes, selection errors, the NaN policy, and the way to batches."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from tagformer import kinematics as kin
from tagformer.data.collate import batch_from_numpy
from tagformer.data.dataset import InMemoryJetDataset
from tagformer.data.formats import read_files
from tagformer.data.formats.base import JetArrays, concat
from tagformer.data.formats.targets import drop_nan_targets, select_targets
from tagformer.data.pipeline import concat_prepared, prepare, report_nan_drops
from tagformer.data.streaming import StreamingJetDataset, StreamSpec
from tagformer.errors import DataError

TRUTH = ["parent_mass", "gen_mass", "gen_sdmass", "gen_pt"]


def write_generated(writers, path, n: int = 20, seed: int = 0,
                    nan_gen: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A generated-layout file with j_pt / j_mass_mmdt columns and a jetTargets dataset; returns (labels, targets)."""
    t = writers.hls4ml(path, n=n, seed=seed, generated=True)
    rng = np.random.default_rng(seed + 7)
    targets = rng.uniform(10, 200, (n, 4)).astype(np.float32)
    targets[t.labels <= 1, 0] = np.nan  # g, q: no parent
    if nan_gen is not None:
        targets[nan_gen, 1:3] = np.nan  # an unmatched particle-level jet
    with h5py.File(path, "a") as f:
        names = [n.decode() for n in f["jetFeatureNames"][()]]
        names[names.index("j_tau21")] = "j_mass_mmdt"
        del f["jetFeatureNames"]
        f["jetFeatureNames"] = np.array([s.encode() for s in names])
        f["jetTargets"] = targets
        f["jetTargetNames"] = np.array([s.encode() for s in TRUTH])
    return t.labels, targets


def test_generated_file_exposes_truth_reco_and_default_mass(tmp_path, writers):
    path = tmp_path / "gen.h5"
    labels, truth = write_generated(writers, path)
    a = read_files([str(path)], "hls4ml")
    assert sorted(a.targets) == sorted([*TRUTH, "mass", "pt", "sdmass"])
    for i, name in enumerate(TRUTH):
        np.testing.assert_array_equal(a.targets[name], truth[:, i])
    resonant = np.isin(labels, [2, 3, 4])  # w, z, t
    np.testing.assert_array_equal(a.targets["mass"][resonant], truth[resonant, 0])
    np.testing.assert_array_equal(a.targets["mass"][~resonant], truth[~resonant, 2])
    np.testing.assert_array_equal(a.targets["pt"], a.jet[:, a.jet_names.index("pt")])
    np.testing.assert_array_equal(a.targets["sdmass"], a.jet[:, a.jet_names.index("mass_mmdt")])
    assert all(v.dtype == np.float32 and v.shape == (20,) for v in a.targets.values())
    part = a.select(np.array([3, 1]))
    np.testing.assert_array_equal(part.targets["gen_pt"], truth[[3, 1], 3])
    both = concat([a, a])
    assert len(both.targets["mass"]) == 40


def test_published_hls4ml_and_older_generated_files_read_without_truth(tmp_path, writers):
    writers.hls4ml(tmp_path / "pub.h5")
    a = read_files([str(tmp_path / "pub.h5")], "hls4ml")
    assert sorted(a.targets) == ["pt"]  # j_pt is named; no j_mass_mmdt, no jetTargets
    with pytest.raises(DataError, match=r"no target 'mass'; available targets: pt"):
        select_targets(a, ["mass"])


def test_jetclass_targets_never_become_inputs(tmp_path, writers):
    writers.jetclass(tmp_path / "jc.root")
    a = read_files([str(tmp_path / "jc.root")], "jetclass")
    assert sorted(a.targets) == ["aux_genpart_pt", "pt", "sdmass"]
    np.testing.assert_array_equal(a.targets["sdmass"], a.jet[:, a.jet_names.index("sdmass")])
    assert not any("aux" in n or "genpart" in n for n in a.jet_names)
    assert not any("aux" in k for k in a.extras)


def test_top_and_quark_gluon_targets_come_from_the_constituents(tmp_path, writers):
    writers.top(tmp_path / "top.h5")
    writers.qg(tmp_path / "qg.npz")
    for path, fmt in ((tmp_path / "top.h5", "toptagging"), (tmp_path / "qg.npz", "quarkgluon")):
        a = read_files([str(path)], fmt)
        assert sorted(a.targets) == ["jet_mass", "pt"], fmt
        jet = a.p4.sum(axis=1, dtype=np.float64)
        np.testing.assert_allclose(a.targets["pt"], kin.pt(jet), rtol=1e-5)
        np.testing.assert_allclose(a.targets["jet_mass"], kin.mass(jet), rtol=1e-3, atol=1e-2)


def test_a_file_with_no_targets_says_so():
    a = JetArrays(p4=np.zeros((2, 3, 4), np.float32), mask=np.zeros((2, 3), bool), labels=np.zeros(2, np.int64),
                  class_names=["a"], format="hls4ml", sources=["x.h5"])
    with pytest.raises(DataError, match=r"x\.h5: the hls4ml data have no per-jet targets, so target 'mass'"):
        select_targets(a, ["mass"])


def test_nan_targets_are_dropped_and_counted(tmp_path, writers):
    path = tmp_path / "gen.h5"
    labels, truth = write_generated(writers, path, nan_gen=4)
    a = read_files([str(path)], "hls4ml")
    kept, dropped = drop_nan_targets(a, ["gen_mass"])
    assert dropped == 1 and len(kept) == 19 and np.isfinite(kept.targets["gen_mass"]).all()
    p = prepare(a, "ptetaphi", 8, "pt", targets=["gen_mass", "pt"])
    assert p.stats.jets_dropped_nan_target == 1 and len(p) == 19
    assert p.stats.as_dict()["jets_dropped_nan_target"] == 1
    np.testing.assert_array_equal(p.targets["gen_mass"], np.delete(truth[:, 1], 4))
    np.testing.assert_array_equal(p.labels, np.delete(labels, 4))
    assert "dropped 1 of 20 jets" in report_nan_drops("train", p.stats)
    # parent_mass exists for W, Z, t only: the q and g jets leave
    p = prepare(a, "ptetaphi", 8, "pt", targets=["parent_mass"])
    assert p.stats.jets_dropped_nan_target == int((labels <= 1).sum()) and (p.labels >= 2).all()


def test_a_split_with_only_nan_targets_is_refused(tmp_path, writers):
    path = tmp_path / "gen.h5"
    labels, _ = write_generated(writers, path)
    a = read_files([str(path)], "hls4ml")
    qcd = a.select(np.flatnonzero(labels <= 1))
    p = prepare(qcd, "ptetaphi", 8, "pt", targets=["parent_mass"])
    assert len(p) == 0
    with pytest.raises(DataError, match=r"all \d+ jet\(s\) have a NaN target 'parent_mass'"):
        concat_prepared([p])


def test_targets_reach_the_batch_in_memory_and_streaming(tmp_path, writers):
    path = tmp_path / "gen.h5"
    _, truth = write_generated(writers, path, n=30, nan_gen=2)
    a = read_files([str(path)], "hls4ml")
    ds = InMemoryJetDataset(prepare(a, "ptetaphi", 8, "pt", targets=["mass"]))
    batch = ds[[0, 1, 2]].validate()
    assert batch.targets["mass"].dtype == torch.float32 and batch.targets["mass"].shape == (3,)
    spec = StreamSpec(files=[str(path)], format="hls4ml", split="train", feature_set="ptetaphi", num_particles=8,
                      ordering="pt", batch_size=8, shuffle=True, shuffle_buffer=10, chunk_size=7,
                      targets=["gen_sdmass"])
    got = [b.validate().targets["gen_sdmass"] for b in StreamingJetDataset(spec)]
    values = torch.cat(got).numpy()
    assert len(values) == 29  # the jet with a NaN particle-level soft-drop mass is left out
    np.testing.assert_array_equal(np.sort(values), np.sort(np.delete(truth[:, 2], 2)))
    b = batch_from_numpy(np.zeros((2, 3, 1)), np.zeros((2, 3, 4)), np.ones((2, 3), bool), np.zeros(2),
                         targets={"mass": np.array([1.0, 2.0], np.float32)})
    assert b.targets["mass"].dtype == torch.float32


def test_truth_four_vectors_give_nan_where_the_jet_has_no_object():
    from tagformer.data.formats.targets import four_vector_targets

    p4 = np.array([[0.0, 0.0, 0.0, 0.0], [300.0, 400.0, 0.0, 0.0]])
    p4[1, 3] = np.sqrt(500.0**2 + 173.0**2)
    out = four_vector_targets("truth_", p4)
    assert np.isnan(out["truth_mass"][0]) and np.isnan(out["truth_pt"][0])
    np.testing.assert_allclose([out["truth_mass"][1], out["truth_pt"][1]], [173.0, 500.0], rtol=1e-5)
