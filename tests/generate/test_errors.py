"""Bad input to ``generate``, ``merge`` and ``inspect``: one clear line, exit 2, nothing left as complete."""

from __future__ import annotations

import re
import sys

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
    (["--pthat-min", "nan"], "pthat_min must be a finite number, got nan"),
    (["--pthat-max", "inf"], "pthat_max must be a finite number, got inf"),
    (["--jet-pt-min", "nan"], "jet_pt_min must be a finite number"),
    (["--jet-pt-min", "inf"], "jet_pt_min must be a finite number"),
    (["--eta-max", "nan"], "eta_max must be a finite number"),
    (["--eta-max", "inf"], "eta_max must be a finite number"),
    (["--ecal-cell", "nan"], "ecal_cell must be a finite number"),
    (["--seed", str(2**63)], "seed must be between 0 and 2**63 - 1"),
    (["--seed", str(2**64 + 5)], "seed must be between 0 and 2**63 - 1"),
    (["--seed", "-1"], "seed must be between 0 and 2**63 - 1"),
    (["--jets-per-class", str(10**18)], "more than the limit of 1,000,000"),
    (["--jets-per-class", str(10**9), "--shard-size", "1"], "more than the limit of 1,000,000"),
    (["--constituents", str(10**9)], "n_constituents must be at most 10000"),
    (["--constituents", "5000", "--shard-size", "100000"], "more than the limit of 20,000,000"),
    (["--ecal-cell", "1e-30"], "ecal_cell must be at least 1e-12"),
    (["--hcal-cell", "0"], "hcal_cell must be positive"),
    (["--jet-pt-min", "5000"], "jet_pt_min 5000.0 GeV is unreachable with pthat_max 1200.0 GeV"),
    (["--pthat-min", "7000", "--pthat-max", "8000"], "pthat_min 7000.0 GeV is out of reach"),
])
def test_bad_arguments(tmp_path, capsys, extra, fragment):
    out = tmp_path / "x.h5"
    assert run_cli("generate", str(out), "--no-progress", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == [], "nothing written"


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


@pytest.mark.parametrize(("content", "fragment"), [
    ("[1, 2, 3]", "not a settings file of tagformer generate (a JSON list"),
    ('{"output": "elsewhere.h5", "seed": 5}', "unknown key(s) 'output'"),
    ('"just text"', "a JSON str"),
    ("{not json", "is corrupt"),
    ('{"seed": "five"}', "holds an invalid setting"),
])
def test_merge_and_generate_refuse_a_foreign_settings_file(tmp_path, capsys, content, fragment):
    out = tmp_path / "x.h5"
    parts = tmp_path / "x.h5.parts"
    parts.mkdir()
    (parts / "settings.json").write_text(content)
    assert run_cli("merge", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and err.count("\n") == 1
    if "invalid setting" not in fragment:  # generate replaces a settings file only with --overwrite
        assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1") == 2
        err = capsys.readouterr().err
        assert fragment in err and "--overwrite" in err and err.count("\n") == 1
    assert (parts / "settings.json").read_text() == content and not out.exists()


def test_a_failed_first_attempt_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    import tagformer.data.generate.shard as shard
    from tagformer.errors import ConfigError

    out = tmp_path / "x.h5"

    def rejects(config, label, seed):
        raise ConfigError(f"Pythia rejected the setting 'PhaseSpace:pTHatMin = {config.pthat_min}' for class 'w'")

    with monkeypatch.context() as m:
        m.setattr(shard, "make_pythia", rejects)
        assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--pthat-min", "1100") == 2
    assert "Pythia rejected" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == [], "no settings.json left to refuse the corrected command"
    # a parts directory an older version left with other settings and no shard: nothing to protect
    write_parts(out, pthat_min=1100.0)
    assert run_cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "0/4") == 0
    assert sorted(p.name for p in (tmp_path / "x.h5.parts").glob("shard-*")) == ["shard-w-00000.h5"]


def test_an_unreachable_jet_cut_fails_fast(tmp_path, capsys, monkeypatch):
    import tagformer.data.generate.shard as shard

    monkeypatch.setattr(shard, "MAX_EVENTS_WITHOUT_JET", 50)  # 2000 in real runs (about 20 s)
    out = tmp_path / "x.h5"
    assert run_cli("generate", str(out), "--classes", "w", "--jets-per-class", "3", "--eta-max", "0.0001",
                   "--workers", "1", "--no-progress") == 2
    err = capsys.readouterr().err
    assert re.match(r"error: only 0 matched 'w' jet\(s\) in \d+ events", err) and "|eta| < 0.0001" in err
    assert err.count("\n") == 1 and sorted(tmp_path.iterdir()) == []


def test_missing_generate_extra_names_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fastjet", None)  # as if `pip install tagformer` without [generate]
    out = tmp_path / "x.h5"
    assert run_cli("generate", str(out), *TINY_ARGS) == 2
    err = capsys.readouterr().err
    assert err == "error: generating jets needs fastjet, which is not installed: pip install 'tagformer[generate]'\n"
    assert sorted(tmp_path.iterdir()) == []


def test_an_extra_that_fails_to_import_is_named(tmp_path, capsys, monkeypatch):
    import tagformer.data.generate.shard as shard

    def broken(*args):
        raise ImportError("libpythia8.so: cannot open shared object file", name="pythia8mc")

    monkeypatch.setattr(shard, "make_pythia", broken)
    assert run_cli("generate", str(tmp_path / "x.h5"), *TINY_ARGS, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot import pythia8mc") and "pip install 'tagformer[generate]'" in err


def test_a_run_too_big_to_merge_in_memory_is_refused_up_front(tmp_path, capsys, monkeypatch):
    import tagformer.data.generate.memory as memory

    monkeypatch.setattr(memory, "machine_memory", lambda field: 2**17 if field == "MemTotal" else None)
    assert run_cli("generate", str(tmp_path / "x.h5"), *TINY_ARGS, "--workers", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: merging 12 jets into one file needs about 0.2 MiB of memory and this machine "
                          "has 0.1 MiB") and err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == []


def test_a_merge_without_the_memory_keeps_the_shards(tmp_path, capsys, monkeypatch):
    import tagformer.data.generate.memory as memory

    out = tmp_path / "x.h5"
    parts = write_parts(out)
    before = (parts / "settings.json").read_bytes()
    for spec in ("w-00000", "w-00001", "g-00000", "g-00001"):
        (parts / f"shard-{spec}.h5").write_bytes(b"a finished shard")
    monkeypatch.setattr(memory, "machine_memory", lambda field: 1000)
    assert run_cli("merge", str(out)) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "has available" in err and err.count("\n") == 1
    assert len(list(parts.glob("shard-*.h5"))) == 4 and (parts / "settings.json").read_bytes() == before
