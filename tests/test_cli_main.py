from __future__ import annotations

import argparse

import pytest

from tagformer.cli import main as cli_main
from tagformer.errors import DataError


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["--help"])
    assert exc.value.code == 0
    assert "COMMAND" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert cli_main.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback(monkeypatch, capsys):
    def fake_parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser()
        sub = p.add_subparsers()
        boom = sub.add_parser("boom")

        def run(args: argparse.Namespace) -> int:
            raise DataError("file x.h5: key 'jets' missing")

        boom.set_defaults(func=run)
        return p

    monkeypatch.setattr(cli_main, "build_parser", fake_parser)
    assert cli_main.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: file x.h5: key 'jets' missing"
    assert "Traceback" not in err
