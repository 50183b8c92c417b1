"""Following the tool's own advice never deletes finished work: ``--overwrite`` with ``--shard`` touches only
its slice, ``merge --partial`` refuses the run's own output, and nothing the user made is replaced or
deleted without ``--overwrite``."""

from __future__ import annotations

import numpy as np

from .conftest import TINY_ARGS, read_arrays, run_cli, write_parts


def _shards(parts):
    return {p.name: p.read_bytes() for p in sorted(parts.glob("shard-*.h5"))}


def test_the_issue_sequence_keeps_slice_0(tiny_file, tmp_path, capsys):
    out = tmp_path / "jets.h5"
    parts = tmp_path / "jets.h5.parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("the user's own file")
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "0/2") == 0
    slice0 = _shards(parts)
    assert sorted(slice0) == ["shard-g-00000.h5", "shard-w-00000.h5"]
    # merge --partial into the run's own output is refused (the help says: another OUTPUT, with --parts)
    for extra in ([], ["--parts", str(parts)]):
        assert run_cli("merge", str(out), "--partial", *extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --partial") and "--parts" in err and err.count("\n") == 1
        assert not out.exists()
    # an output the user made is left alone by a slice, which writes only the parts directory
    out.write_bytes(b"the user's own jets.h5")
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--overwrite", "--shard", "1/2") == 0
    assert out.read_bytes() == b"the user's own jets.h5"
    shards = _shards(parts)
    assert {k: shards[k] for k in slice0} == slice0, "slice 0's shards are untouched"
    assert sorted(shards) == ["shard-g-00000.h5", "shard-g-00001.h5", "shard-w-00000.h5", "shard-w-00001.h5"]
    # --overwrite --shard with other settings would have to delete slice 0: refused, nothing changed
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--overwrite", "--shard", "1/2",
                   "--seed", "6") == 2
    err = capsys.readouterr().err
    assert "other slices" in err and err.count("\n") == 1
    assert _shards(parts) == shards
    # the output is replaced only with --overwrite; then the merge removes only the run's own files
    assert run_cli("merge", str(out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert run_cli("merge", str(out), "--overwrite") == 0
    for a, b in zip(read_arrays(tiny_file), read_arrays(out)):
        assert np.array_equal(a, b)
    assert sorted(p.name for p in parts.iterdir()) == ["notes.txt"]


def test_overwrite_of_one_slice_regenerates_only_that_slice(tmp_path):
    out = tmp_path / "x.h5"
    parts = write_parts(out)
    (parts / "shard-w-00000.h5").write_bytes(b"damaged shard of slice 0")
    (parts / "shard-w-00001.h5").write_bytes(b"shard of slice 1, someone else's job")
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--overwrite", "--shard", "0/2") == 0
    assert (parts / "shard-w-00000.h5").read_bytes()[:4] == b"\x89HDF"
    assert (parts / "shard-g-00000.h5").read_bytes()[:4] == b"\x89HDF"
    assert (parts / "shard-w-00001.h5").read_bytes() == b"shard of slice 1, someone else's job"


def test_inspect_plots_replace_only_their_own_pngs(tiny_file, tmp_path, capsys):
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "j_mass.png").write_bytes(b"the user's own plot")
    assert run_cli("inspect", str(tiny_file), "--plot", str(plots)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "j_mass.png" in err and "--overwrite" in err and err.count("\n") == 1
    assert sorted(p.name for p in plots.iterdir()) == ["j_mass.png"], "nothing written after a refusal"
    assert (plots / "j_mass.png").read_bytes() == b"the user's own plot"
    assert run_cli("inspect", str(tiny_file), "--plot", str(plots), "--overwrite") == 0
    assert run_cli("inspect", str(tiny_file), "--plot", str(plots)) == 0, "its own plots are replaced freely"
    assert (plots / "j_mass.png").read_bytes()[:4] == b"\x89PNG"
