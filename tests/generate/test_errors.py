"""Bad input to ``generate``, ``merge`` and ``inspect``: one clear line, exit 2, nothing left as complete."""

from __future__ import annotations

import pytest

from .conftest import TINY_ARGS, run_cli, write_parts


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--classes", "w,higgs"], "unknown class 'higgs'"),
    (["--jets-per-class", "0"], "jets_per_class must be positive"),
    (["--jets-per-class", "-3"], "jets_per_class must be positive"),
    (["--pthat-min", "1200", "--pthat-max", "1000"], "empty or inverted"),
    (["--pthat-min", "1000", "--pthat-max", "1000"], "empty or inverted"),
    (["--shard", "3/2"], "--shard 3/2 is invalid"),
    (["--shard", "x"], "must look like I/N"),
])
def test_bad_arguments(tmp_path, capsys, extra, fragment):
    out = tmp_path / "x.h5"
    assert run_cli("generate", str(out), "--no-progress", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert run_cli("generate", str(blocker / "x.h5"), "--no-progress") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "a_file" in err


def test_existing_output_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "x.h5"
    out.write_bytes(b"precious")
    assert run_cli("generate", str(out), "--no-progress") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"precious"


def test_corrupt_shard_is_reported(tmp_path, capsys):
    out = tmp_path / "x.h5"
    parts = write_parts(out)
    (parts / "shard-w-00000.h5").write_bytes(b"\x89HDF crashed mid-write")
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert "shard-w-00000.h5" in err and "corrupt" in err and "Traceback" not in err
    assert not out.exists()


def test_changed_settings_need_overwrite(tmp_path, capsys):
    out = tmp_path / "x.h5"
    parts = write_parts(out, detector="none")
    (parts / "shard-w-00000.h5").write_bytes(b"a finished shard of the other settings")
    before = {p.name: p.read_bytes() for p in parts.iterdir()}
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert "different settings (detector)" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in parts.iterdir() if not p.name.startswith(".")} == before


def test_inspect_errors(tmp_path, capsys):
    assert run_cli("inspect", str(tmp_path / "missing.h5")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.h5" in err and "Traceback" not in err
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    assert run_cli("inspect", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.h5" in err and "Traceback" not in err
