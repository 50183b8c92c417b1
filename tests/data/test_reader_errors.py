"""Bad input raises DataError naming the file and the problem; nothing is filled in or skipped."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tagformer.data.formats import detect_format, read_files, resolve_files
from tagformer.data.pipeline import prepare
from tagformer.errors import DataError


def _read(path, fmt=None):
    return read_files([path], fmt or detect_format([path]))


def _rewrite_h5(path, key, value):
    with h5py.File(path, "a") as f:
        del f[key]
        if value is not None:
            f[key] = value


def test_missing_key_hls4ml(tmp_path, writers):
    path = str(tmp_path / "x.h5")
    writers.hls4ml(path)
    _rewrite_h5(path, "jets", None)
    with pytest.raises(DataError, match=r"x\.h5.*missing dataset 'jets'"):
        _read(path, "hls4ml")


@pytest.mark.parametrize("branch", ["part_px", "label_Hbb"])
def test_missing_branch_jetclass(tmp_path, writers, branch):
    path = str(tmp_path / "x.root")
    writers.jetclass(path, drop=(branch,))
    with pytest.raises(DataError, match=rf"x\.root.*missing branch.*{branch}"):
        _read(path)


def test_missing_label_column_top(tmp_path, writers):
    import pandas as pd

    path = str(tmp_path / "top.h5")
    writers.top(path, n=4)
    df = pd.read_hdf(path, "table").drop(columns=["is_signal_new"])
    df.to_hdf(path, key="table")
    with pytest.raises(DataError, match=r"top\.h5.*is_signal_new"):
        _read(path)


def test_missing_array_qg(tmp_path):
    path = str(tmp_path / "qg.npz")
    np.savez(path, X=np.ones((3, 4, 4)))
    with pytest.raises(DataError, match=r"qg\.npz.*missing array 'y'"):
        _read(path)


def test_wrong_shape(tmp_path, writers):
    path = str(tmp_path / "x.h5")
    writers.hls4ml(path)
    _rewrite_h5(path, "jetConstituentList", np.ones((12, 30, 15), np.float32))
    with pytest.raises(DataError, match=r"x\.h5.*shape \(12, 30, 15\)"):
        _read(path)
    qg = str(tmp_path / "qg.npz")
    np.savez(qg, X=np.ones((3, 4, 3)), y=np.zeros(3))
    with pytest.raises(DataError, match=r"qg\.npz.*'X' has shape"):
        _read(qg)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf(tmp_path, writers, bad):
    h5 = str(tmp_path / "x.h5")
    writers.hls4ml(h5)
    with h5py.File(h5, "a") as f:
        f["jetConstituentList"][3, 0, 5] = bad
    with pytest.raises(DataError, match=r"x\.h5.*jetConstituentList.*NaN or infinite"):
        _read(h5)
    qg = str(tmp_path / "qg.npz")
    writers.qg(qg)
    data = dict(np.load(qg))
    data["X"][1, 0, 1] = bad
    np.savez(qg, **data)
    with pytest.raises(DataError, match=r"qg\.npz.*NaN or infinite"):
        _read(qg)
    top = str(tmp_path / "top.h5")
    writers.top(top, n=4)
    import pandas as pd

    df = pd.read_hdf(top, "table")
    df.loc[0, "PX_0"] = bad
    df.to_hdf(top, key="table")
    with pytest.raises(DataError, match=r"top\.h5.*NaN or infinite"):
        _read(top)


def test_nan_jetclass(tmp_path, writers):
    import awkward as ak
    import uproot

    path = str(tmp_path / "x.root")
    writers.jetclass(path, n=4)
    tree = uproot.open(path)["tree"]
    arrays = tree.arrays(library="ak")
    data = {k: arrays[k] for k in arrays.fields if not k.startswith("part") and k != "npart"}
    part = {k.removeprefix("part_"): arrays[k] for k in arrays.fields if k.startswith("part_")}
    flat = ak.to_numpy(ak.flatten(part["energy"])).copy()
    flat[2] = np.nan
    part["energy"] = ak.unflatten(flat, ak.num(part["energy"]))
    data["part"] = ak.zip(part)
    with uproot.recreate(path) as f:
        f.mktree("tree", {k: v.type for k, v in data.items()})
        f["tree"].extend(data)
    with pytest.raises(DataError, match=r"x\.root.*part_energy.*NaN or infinite"):
        _read(path)


@pytest.mark.parametrize("suffix", [".h5", ".root", ".npz"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.*empty \(0 bytes\)"):
        _read(str(path))


def test_file_with_no_jets(tmp_path, writers):
    path = str(tmp_path / "x.h5")
    writers.hls4ml(path)
    _rewrite_h5(path, "jetConstituentList", np.zeros((0, 30, 16), np.float32))
    _rewrite_h5(path, "jets", np.zeros((0, 59), np.float32))
    with pytest.raises(DataError, match=r"x\.h5.*no jets"):
        _read(path)


@pytest.mark.parametrize("kind", ["hls4ml", "jetclass", "top", "qg"])
@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_truncated_or_corrupt(tmp_path, writers, kind, damage):
    suffix = {"hls4ml": ".h5", "jetclass": ".root", "top": ".h5", "qg": ".npz"}[kind]
    fmt = {"hls4ml": "hls4ml", "jetclass": "jetclass", "top": "toptagging", "qg": "quarkgluon"}[kind]
    path = tmp_path / f"bad{suffix}"
    getattr(writers, kind)(str(path))
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    else:
        path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, len(raw), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"bad\."):
        _read(str(path), fmt)


def test_labels_not_one_hot(tmp_path, writers):
    path = str(tmp_path / "x.h5")
    writers.hls4ml(path, n=6)
    with h5py.File(path, "a") as f:
        jets = f["jets"][()]
        jets[2, 53:58] = [1, 1, 0, 0, 0]
        f["jets"][...] = jets
    with pytest.raises(DataError, match=r"x\.h5.*not one-hot.*first at jet 2"):
        _read(path)
    root = str(tmp_path / "y.root")
    writers.jetclass(root, n=5, onehot=np.zeros((5, 10)))
    with pytest.raises(DataError, match=r"y\.root.*not one-hot"):
        _read(root)
    top = str(tmp_path / "top.h5")
    writers.top(top, n=4, label=np.array([0, 1, 2, 1]))
    with pytest.raises(DataError, match=r"top\.h5.*must be 0 or 1"):
        _read(top)


@pytest.mark.parametrize("kind,missing", [("hls4ml", "charge.*impact"), ("top", "charge.*impact"),
                                          ("qg", "impact parameters")])
def test_feature_set_not_provided(tmp_path, writers, kind, missing):
    suffix = {"hls4ml": ".h5", "top": ".h5", "qg": ".npz"}[kind]
    path = str(tmp_path / f"d{suffix}")
    getattr(writers, kind)(path)
    arrays = _read(path)
    with pytest.raises(DataError, match=rf"d\{suffix}.*part_full.*{missing}.*{arrays.format} format"):
        prepare(arrays, "part_full", 16, "pt")


def test_unknown_names_and_paths(tmp_path, writers):
    path = str(tmp_path / "x.h5")
    writers.hls4ml(path)
    arrays = _read(path)
    with pytest.raises(DataError, match="unknown feature set"):
        prepare(arrays, "nope", 16, "pt")
    with pytest.raises(DataError, match="unknown ordering"):
        prepare(arrays, "ptetaphi", 16, "nope")
    with pytest.raises(DataError, match="unknown data format"):
        read_files([path], "parquet")
    with pytest.raises(DataError, match="no such file"):
        resolve_files(str(tmp_path / "missing.h5"))
    with pytest.raises(DataError, match="no file matches"):
        resolve_files(str(tmp_path / "*.root"))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["something"] = np.ones(3)
    with pytest.raises(DataError, match="neither hls4ml"):
        detect_format([str(other)])
