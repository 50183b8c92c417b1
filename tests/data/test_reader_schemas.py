"""Each reader reads back a small file written in the real schema: tensors, labels and masks."""

from __future__ import annotations

import numpy as np
import pytest

from tagformer import kinematics as kin
from tagformer.data.formats import detect_format, quarkgluon, read_files, resolve_files


def test_hls4ml_published_layout(tmp_path, writers):
    path = str(tmp_path / "jetImage_0_30p.h5")
    truth = writers.hls4ml(path, n=10, p=30)
    assert detect_format([path]) == "hls4ml"
    arrays = read_files([path], "hls4ml")
    np.testing.assert_array_equal(arrays.p4, truth.p4)
    np.testing.assert_array_equal(arrays.mask, truth.mask)
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    assert arrays.class_names == ["g", "q", "w", "z", "t"]
    assert arrays.extras["hls4ml16"].shape == (10, 30, 16)
    assert arrays.jet.shape == (10, 53)  # 59 minus 5 labels minus the unused column
    assert arrays.jet_names[:4] == ["ptfrac", "pt", "eta", "mass"]


def test_hls4ml_generated_layout_labels_by_name(tmp_path, writers):
    path = str(tmp_path / "gen.h5")
    truth = writers.hls4ml(path, n=8, generated=True)
    arrays = read_files([path], "hls4ml")
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    assert arrays.jet_names == ["pt", "eta", "mass", "tau21"]


def test_hls4ml_without_names_uses_published_columns(tmp_path, writers):
    path = str(tmp_path / "nonames.h5")
    truth = writers.hls4ml(path, n=8, names=False)
    arrays = read_files([path], "hls4ml")
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    np.testing.assert_array_equal(arrays.p4, truth.p4)


def test_many_files_directory_and_glob(tmp_path, writers):
    t0 = writers.hls4ml(str(tmp_path / "a_0.h5"), n=5, seed=0)
    t1 = writers.hls4ml(str(tmp_path / "a_1.h5"), n=7, seed=1)
    for spec in (str(tmp_path), str(tmp_path / "a_*.h5")):
        files = resolve_files(spec)
        assert len(files) == 2
        arrays = read_files(files, "hls4ml")
        np.testing.assert_array_equal(arrays.labels, np.concatenate([t0.labels, t1.labels]))
    assert len(read_files(resolve_files(str(tmp_path)), "hls4ml", max_jets=6)) == 6


def test_jetclass_root(tmp_path, writers):
    path = str(tmp_path / "TTBar_000.root")
    truth = writers.jetclass(path, n=9, p=40)
    assert detect_format([path]) == "jetclass"
    arrays = read_files([path], "jetclass")
    p = arrays.num_particles
    assert p == truth.mask.sum(axis=1).max()
    np.testing.assert_allclose(arrays.p4, truth.p4[:, :p], rtol=1e-6)
    np.testing.assert_array_equal(arrays.mask, truth.mask[:, :p])
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    assert arrays.class_names[0] == "QCD" and len(arrays.class_names) == 10
    assert arrays.extras["pid"].shape == (9, p, 6) and arrays.extras["ip"].shape == (9, p, 4)
    assert "genpart_pt" not in arrays.jet_names and all(not n.startswith("aux") for n in arrays.jet_names)
    assert arrays.jet.shape == (9, 10)


def test_jetclass_chunked_read_matches(tmp_path, writers):
    path = str(tmp_path / "HToBB_000.root")
    writers.jetclass(path, n=10)
    from tagformer.data.formats import iter_chunks

    chunks = list(iter_chunks(path, "jetclass", 4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    whole = read_files([path], "jetclass")
    np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), whole.labels)


def test_toptagging_pandas(tmp_path, writers):
    path = str(tmp_path / "train.h5")
    truth = writers.top(path, n=11)
    assert detect_format([path]) == "toptagging"
    arrays = read_files([path], "toptagging")
    assert arrays.p4.shape == (11, 200, 4)
    np.testing.assert_array_equal(arrays.p4, truth.p4)
    np.testing.assert_array_equal(arrays.mask, truth.mask)
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    assert arrays.class_names == ["QCD", "top"]
    assert len(read_files([path], "toptagging", max_jets=4)) == 4


@pytest.mark.parametrize("pid", [True, False])
def test_quarkgluon_npz(tmp_path, writers, pid):
    path = str(tmp_path / "QG_jets.npz")
    truth = writers.qg(path, n=10, m=25, pid=pid)
    assert detect_format([path]) == "quarkgluon"
    arrays = read_files([path], "quarkgluon")
    raw = np.load(path)["X"]
    mass, _ = quarkgluon.pid_columns(raw[..., 3].astype(np.int64))
    mt = np.sqrt(truth.pt**2 + mass**2)
    expected = np.stack([truth.pt * np.cos(truth.phi), truth.pt * np.sin(truth.phi),
                         mt * np.sinh(truth.rap), mt * np.cosh(truth.rap)], -1)
    expected = np.where(truth.mask[..., None], expected, 0.0)
    np.testing.assert_allclose(arrays.p4, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(arrays.mask, truth.mask)
    np.testing.assert_array_equal(arrays.labels, truth.labels)
    # rapidity survives the float32 round trip (the mass cannot be resolved in float32 at ~100 GeV)
    real = arrays.mask
    np.testing.assert_allclose(kin.rapidity(arrays.p4.astype(np.float64))[real], truth.rap[real], atol=1e-3)
    assert (mass[real] > 0).any() == pid
    if pid:
        assert arrays.extras["pid"][..., 3][real].sum() == (raw[..., 3][real] == 22).sum()  # photons


@pytest.mark.parametrize("pandas_format", ["fixed", "table"])
def test_toptagging_chunks_in_both_pandas_formats(tmp_path, writers, pandas_format):
    import pandas as pd

    from tagformer.data.formats import iter_chunks

    path = str(tmp_path / "val.h5")
    truth = writers.top(path, n=9, p=20)
    if pandas_format == "table":
        pd.read_hdf(path, "table").to_hdf(path, key="table", format="table")
    chunks = list(iter_chunks(path, "toptagging", 4))
    assert [len(c) for c in chunks] == [4, 4, 1]
    np.testing.assert_array_equal(np.concatenate([c.p4 for c in chunks]), truth.p4)
