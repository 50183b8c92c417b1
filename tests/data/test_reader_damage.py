"""Damaged or odd files reach the user as one ``DataError`` line naming the file, never a traceback: a JetClass
file cut anywhere, hls4ml datasets that are groups or hold strings, a directory named like a data file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tagformer.data.describe import describe
from tagformer.data.formats import detect_format, get_reader, read_files, resolve_files
from tagformer.data.summary import summarize
from tagformer.errors import DataError


def _fails_cleanly(fn, path) -> None:
    with pytest.raises(DataError) as info:
        fn()
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message


@pytest.fixture
def jetclass_bytes(tmp_path, writers) -> bytes:
    path = tmp_path / "full.root"
    writers.jetclass(str(path), n=200, p=40)
    return path.read_bytes()


def _cut_points(size: int) -> list[int]:
    """Cuts in the header and first basket (where uproot opens the file but fails on its first read)
    and every 10 % of the file (the last few hundred bytes hold nothing the reader needs)."""
    return sorted({37, 500, 1406, 1700, 2400, 5000, *(size * k // 10 for k in range(1, 10))})


def test_jetclass_cut_anywhere(tmp_path, jetclass_bytes):
    path = tmp_path / "cut.root"
    for cut in _cut_points(len(jetclass_bytes)):
        path.write_bytes(jetclass_bytes[:cut])
        _fails_cleanly(lambda: read_files([str(path)], "jetclass"), path)
        _fails_cleanly(lambda: describe(str(path)), path)
        try:
            get_reader("jetclass").count(str(path))  # a cut past the metadata still counts the entries
        except DataError as exc:
            assert "\n" not in str(exc)


def _hls4ml_with(writers, path, key: str, kind: str) -> None:
    writers.hls4ml(str(path), n=12, p=30)
    with h5py.File(path, "a") as f:
        shape = f[key].shape
        del f[key]
        if kind == "group":
            f.create_group(key).create_dataset("inside", data=np.ones(3))
        elif kind == "bytes":
            f[key] = np.full(shape, b"x")
        else:
            f.create_dataset(key, data=np.array(["x"] * shape[0], dtype=object), dtype=h5py.string_dtype())


@pytest.mark.parametrize("key", ["jets", "jetConstituentList"])
@pytest.mark.parametrize("kind", ["group", "bytes", "vlen"])
def test_hls4ml_dataset_that_is_a_group_or_holds_strings(tmp_path, writers, key, kind):
    path = tmp_path / "odd.h5"
    _hls4ml_with(writers, path, key, kind)
    _fails_cleanly(lambda: read_files([str(path)], detect_format([str(path)])), path)
    _fails_cleanly(lambda: describe(str(path)), path)
    if key == "jets":
        _fails_cleanly(lambda: summarize(path), path)


@pytest.mark.parametrize("kind", ["group", "bytes"])
def test_inspect_of_an_odd_generated_file_is_one_line(tmp_path, capsys, writers, kind):
    from tagformer.cli.main import main

    path = tmp_path / "gen.h5"
    _hls4ml_with(writers, path, "jets", kind)
    with h5py.File(path, "a") as f:
        f.create_group("metadata").attrs["command"] = "tagformer generate"
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "gen.h5" in err and err.count("\n") == 1


def test_feature_names_that_are_not_names(tmp_path, writers):
    path = tmp_path / "names.h5"
    writers.hls4ml(str(path))
    with h5py.File(path, "a") as f:
        del f["jetFeatureNames"]
        f.create_group("jetFeatureNames")
    _fails_cleanly(lambda: read_files([str(path)], "hls4ml"), path)


def test_a_directory_named_like_a_data_file_is_skipped(tmp_path, writers):
    data = tmp_path / "data"
    (data / "sub.h5").mkdir(parents=True)
    (data / "old.root").mkdir()
    writers.hls4ml(str(data / "a.h5"))
    assert resolve_files(str(data)) == [str(data / "a.h5")]
    assert len(read_files(resolve_files(str(data)), "hls4ml")) == 12
    (data / "a.h5").unlink()
    with pytest.raises(DataError, match=r"contains no \.h5/\.hdf5/\.root/\.npz files"):
        resolve_files(str(data))


def test_npz_array_of_strings(tmp_path):
    path = tmp_path / "qg.npz"
    np.savez(path, X=np.full((2, 3, 4), "a"), y=np.zeros(2))
    _fails_cleanly(lambda: read_files([str(path)], "quarkgluon"), path)
