from __future__ import annotations

import argparse
import errno

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


def _parser_raising(exc: BaseException):
    def fake_parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser()
        p.add_argument("--debug", action="store_true")
        sub = p.add_subparsers()
        boom = sub.add_parser("boom")
        boom.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)

        def run(args: argparse.Namespace) -> int:
            raise exc

        boom.set_defaults(func=run)
        return p

    return fake_parser


@pytest.mark.parametrize("how", ["flag-before", "flag-after", "env"])
def test_debug_shows_the_traceback_and_still_exits_2(monkeypatch, capsys, how: str):
    monkeypatch.setattr(cli_main, "build_parser", _parser_raising(DataError("file x.h5 is broken")))
    argv = {"flag-before": ["--debug", "boom"], "flag-after": ["boom", "--debug"], "env": ["boom"]}[how]
    if how == "env":
        monkeypatch.setenv("TAGFORMER_DEBUG", "1")
    assert cli_main.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1] == "error: file x.h5 is broken"


def test_every_real_command_accepts_debug():
    parser = cli_main.build_parser()
    args = parser.parse_args(["models", "--debug"])
    assert args.debug is True
    assert parser.parse_args(["--debug", "models"]).debug is True
    assert parser.parse_args(["models"]).debug is False


def test_interrupt_exits_130_with_the_command_hint(monkeypatch, capsys):
    from tagformer.cli.train import INTERRUPT_HINT

    assert cli_main.build_parser().parse_args(["train"]).interrupt_hint == INTERRUPT_HINT
    monkeypatch.setattr(cli_main, "build_parser", _parser_raising(KeyboardInterrupt()))
    assert cli_main.main(["boom"]) == 130
    assert capsys.readouterr().err.startswith("interrupted")


@pytest.mark.parametrize(("code", "needle"), [(errno.ENOSPC, "No space left on device"),
                                              (errno.EROFS, "Read-only file system"),
                                              (errno.EACCES, "Permission denied")])
def test_refusals_of_the_file_system_are_one_line(monkeypatch, capsys, code: int, needle: str):
    import os

    monkeypatch.setattr(cli_main, "build_parser", _parser_raising(OSError(code, os.strerror(code), "/out/x.csv")))
    assert cli_main.main(["boom"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "/out/x.csv" in err and needle in err and len(err.splitlines()) == 1


def test_bugs_keep_their_traceback(monkeypatch):
    monkeypatch.setattr(cli_main, "build_parser", _parser_raising(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError):
        cli_main.main(["boom"])
    monkeypatch.setattr(cli_main, "build_parser", _parser_raising(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        cli_main.main(["boom"])


def test_overrides_may_follow_options():
    parser = cli_main.build_parser()
    args = cli_main.parse(parser, ["train", "--model", "m", "a.b=1", "--data", "d", "c.d=2", "--resume", "e=3"])
    assert args.overrides == ["a.b=1", "c.d=2", "e=3"] and args.data == "d" and args.resume
    with pytest.raises(SystemExit):
        cli_main.parse(parser, ["train", "--model", "m", "a.b=1", "--data", "d", "stray"])
    with pytest.raises(SystemExit):
        cli_main.parse(parser, ["models", "x=1"])
