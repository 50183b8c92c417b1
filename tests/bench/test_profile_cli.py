"""``tagformer profile`` end to end on the toy model, and its user errors (exit 2, one line)."""

from __future__ import annotations

import pytest

from tagformer.bench.profile import PROFILE_COLUMNS, read_csv
from tagformer.cli.main import main

FAST = ["--batch", "1,8", "--repeats", "2", "--budget", "0.02", "--threads", "1", "--memory", "off"]


def test_profile_cli_writes_csv_and_markdown(toy_zoo: str, tmp_path, capsys) -> None:
    out = tmp_path / "prof"
    assert main(["profile", "--models", "toy*", "--particles", "8", *FAST, "--out", str(out)]) == 0
    rows = read_csv(out / "profile.csv")
    assert {r["preset"] for r in rows} == {"toyattn", "toyattn_wide"} and len(rows) == 4
    assert list(rows[0]) == list(PROFILE_COLUMNS)
    assert "| toyattn | toyattn_wide | 8 | 8 |" in (out / "profile.md").read_text()
    assert "jets/s" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--models", "nosuchmodel", "--particles", "8"], "no model or preset matches 'nosuchmodel'"),
        (["--models", "toyattn", "--particles", "0"], "--particles must be positive"),
        (["--models", "toyattn", "--particles", "abc"], "--particles must be comma-separated"),
        (["--models", "toyattn", "--particles", "8", "--batch", "1,x"], "--batch must be comma-separated"),
        (["--models", "toyattn", "--particles", "8", "--threads", "0"], "threads must be >= 1"),
        (["--models", "toyattn", "--particles", "8", "--features", "0"], "features per particle must be >= 1"),
        (["--models", "toyattn", "--particles", "8", "--classes", "0"], "at least 2 classes, got 0"),
        (["--models", "toyattn", "--particles", "8", "--classes", "1"], "at least 2 classes, got 1"),
        (["--models", "toyattn", "--particles", "8", "--device", "foo"], "--device 'foo' is not a device"),
        (["--models", "toyattn", "--particles", "8", "--budget", "-1"], "positive number of seconds"),
    ],
)
def test_profile_cli_bad_input(toy_zoo: str, capsys, argv: list[str], message: str) -> None:
    assert main(["profile", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_profile_cli_cuda_without_gpu(toy_zoo: str, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["profile", "--models", "toyattn", "--particles", "8", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_profile_out_on_a_read_only_file_system(toy_zoo: str, tmp_path, monkeypatch, capsys) -> None:
    import os

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p).startswith(str(tmp_path))
                        else real_access(p, mode, **kw))  # as on a read-only mount (we may run as root)
    assert main(["profile", "--models", "toyattn", "--particles", "8", *FAST, "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not writable (read-only file system" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_profile_never_replaces_the_users_files(toy_zoo: str, tmp_path, capsys) -> None:
    out = tmp_path / "prof"
    out.mkdir()
    (out / "profile.md").write_text("# my notes on last week's numbers\n")
    args = ["profile", "--models", "toyattn", "--particles", "8", *FAST, "--batch", "1", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "profile.md exists and was not written by this command" in err
    assert [p.name for p in out.iterdir()] == ["profile.md"]
    assert (out / "profile.md").read_text() == "# my notes on last week's numbers\n"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main([*args[:-1], str(afile)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert main(args) == 0  # its own files now: replaced without --overwrite
    assert (out / "profile.md").read_text().startswith("<!-- written by tagformer profile -->")
