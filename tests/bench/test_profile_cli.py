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
