"""`tagformer inspect` on community formats goes through describe(); bad files give one error line."""

from __future__ import annotations

from tagformer.cli.main import main


def test_inspect_jetclass_and_qg(tmp_path, writers, capsys):
    root = str(tmp_path / "ZToQQ_000.root")
    writers.jetclass(root, n=6)
    assert main(["inspect", root]) == 0
    out = capsys.readouterr().out
    assert "jetclass" in out and "6 jets" in out and "particles per jet" in out
    npz = str(tmp_path / "QG_jets.npz")
    writers.qg(npz, n=5)
    assert main(["inspect", npz, "--format", "quarkgluon"]) == 0
    assert "gluon" in capsys.readouterr().out


def test_inspect_published_hls4ml_and_bad_file(tmp_path, writers, capsys):
    h5 = str(tmp_path / "published.h5")
    writers.hls4ml(h5, n=4)
    assert main(["inspect", h5]) == 0
    assert "hls4ml" in capsys.readouterr().out
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"not a root file at all")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.root" in err and "Traceback" not in err
