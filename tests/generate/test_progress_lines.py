"""Generation progress written to a log file: plain lines, no carriage returns."""

from __future__ import annotations

import pytest

from tagformer.data.generate.progress import JetProgress


def test_log_mode_prints_plain_lines(capsys: pytest.CaptureFixture[str]):
    with JetProgress(100, "generating 2 shards", every_s=0.0, terminal=False) as bar:
        bar.advance(40)
        bar.advance(60)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "\r" not in err
    assert lines[0].startswith("[generate] generating 2 shards: started, 0/100 jets")
    assert "running, 40/100 jets" in lines[1] and "running, 100/100 jets" in lines[2]
    assert "done, 100/100 jets" in lines[-1]


def test_disabled_prints_nothing(capsys: pytest.CaptureFixture[str]):
    with JetProgress(100, "x", enabled=False, terminal=False) as bar:
        bar.advance(100)
    assert capsys.readouterr().err == ""
