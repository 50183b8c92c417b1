"""``tagformer generate / merge`` end to end: layout, determinism across workers, resume, shards."""

from __future__ import annotations

import json

import h5py
import numpy as np

from tagformer.data.generate.writer import JET_FEATURE_NAMES

from .conftest import TINY_ARGS, read_arrays, run_cli


def test_layout_follows_hls4ml(tiny_file):
    with h5py.File(tiny_file, "r") as f:
        cons, jets = f["jetConstituentList"], f["jets"]
        assert cons.shape == (12, 150, 16) and cons.dtype == np.float32
        names = [n.decode() for n in f["jetFeatureNames"][...]]
        assert names[-5:] == ["j_g", "j_q", "j_w", "j_z", "j_t"] and jets.shape == (12, len(names))
        assert len(f["particleFeatureNames"]) == 16
        labels = jets[:, -5:]
        assert np.all(labels.sum(1) == 1) and labels[:, 0].sum() == 6 and labels[:, 2].sum() == 6
        meta = f["metadata"].attrs
        settings = json.loads(meta["settings"])
        assert settings["jets_per_class"] == 6 and meta["seed"] == 5 and settings["classes"] == ["w", "g"]
        assert "pythia8mc" in json.loads(meta["versions"]) and meta["command"].startswith("tagformer generate")
        pt = cons[..., 5]
        assert np.all(np.diff(pt, axis=1) <= 0), "constituents must be pT-ordered"
    assert names == list(JET_FEATURE_NAMES)
    assert not tiny_file.with_name(tiny_file.name + ".parts").exists()


def test_two_workers_give_identical_arrays(tiny_file, tmp_path):
    out = tmp_path / "two.h5"
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "2") == 0
    for a, b in zip(read_arrays(tiny_file), read_arrays(out)):
        assert np.array_equal(a, b)


def test_interrupted_run_resumes_to_the_same_file(tiny_file, tmp_path, capsys):
    out = tmp_path / "resumed.h5"
    # "interrupted": only half the shards exist, plus a temporary file a crash left behind
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "0/2") == 0
    parts = tmp_path / "resumed.h5.parts"
    (parts / ".shard-g-00001.h5.tmp999").write_bytes(b"half written")
    assert not out.exists()
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1") == 0
    for a, b in zip(read_arrays(tiny_file), read_arrays(out)):
        assert np.array_equal(a, b)


def test_shards_then_merge(tiny_file, tmp_path, capsys):
    out = tmp_path / "merged.h5"
    assert run_cli("merge", str(out)) == 2
    assert "no shards to merge" in capsys.readouterr().err
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "0/2") == 0
    assert run_cli("merge", str(out)) == 2
    assert "shards are missing" in capsys.readouterr().err
    # a balanced partial file from the finished shards of a run in progress
    partial = tmp_path / "partial.h5"
    assert run_cli("merge", str(partial), "--parts", str(tmp_path / "merged.h5.parts"), "--partial") == 0
    with h5py.File(partial, "r") as f:
        assert f["jets"].shape[0] == 6 and f["jets"][:, -5:].sum(0).tolist() == [3, 0, 3, 0, 0]
        assert bool(f["metadata"].attrs["partial"]) and json.loads(f["metadata"].attrs["settings"])[
            "jets_per_class"] == 3
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "1/2") == 0
    assert run_cli("merge", str(out), "--keep-parts") == 0
    for a, b in zip(read_arrays(tiny_file), read_arrays(out)):
        assert np.array_equal(a, b)
    assert run_cli("merge", str(out)) == 2
    assert "already exists" in capsys.readouterr().err
