"""Entry point of the ``tagformer`` command: discovers subcommands and is the one place errors reach the user.

A :class:`~tagformer.errors.TagformerError` (anything the user can fix) prints one ``error: ...`` line and
exits with status 2; an operating-system refusal to write (disk full, read-only file system, permission
denied, a file where a directory belongs) is reported the same way; Ctrl+C exits with 130. ``--debug``
(before or after the command name) or ``TAGFORMER_DEBUG=1`` prints the traceback as well, for bug reports.
Any other exception is a bug and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys
import traceback

import tagformer
from tagformer.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, TagformerError

#: Order in ``--help``; modules not listed here follow alphabetically.
_ORDER = ("quickstart", "generate", "merge", "inspect", "models", "train", "evaluate", "explain", "compare",
          "profile", "search", "export")
#: Environment variable that switches tracebacks on, like ``--debug``.
DEBUG_ENV = "TAGFORMER_DEBUG"
#: OSError numbers that mean "the environment refused", not "tagformer has a bug".
_ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                 errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG})
_DEFAULT_INTERRUPT = "interrupted: rerun the same command to resume where it stopped"
_DEBUG_HELP = f"print the full traceback of an error (also: {DEBUG_ENV}=1)"


def _subcommand_modules() -> list[str]:
    import tagformer.cli as pkg

    names = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    names = [n for n in names if n != "main"]
    return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagformer",
        description="Efficient transformer jet taggers for trigger use: generate data, train, "
        "evaluate, compare, profile and export.",
        epilog="Exit status: 0 success, 2 a user error (one 'error:' line), 130 interrupted (Ctrl+C).",
    )
    parser.add_argument("--version", action="version", version=f"tagformer {tagformer.__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _subcommand_modules():
        module = importlib.import_module(f"tagformer.cli.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    for command in sub.choices.values():  # --debug also after the command name
        try:
            command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
        except argparse.ArgumentError:  # the command has its own --debug
            pass
    return parser


def debug_enabled(args: argparse.Namespace | None = None) -> bool:
    """``--debug`` was given or ``TAGFORMER_DEBUG`` is set to something other than empty or 0."""
    flag = bool(getattr(args, "debug", False)) if args is not None else False
    return flag or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def environment_error_message(exc: OSError) -> str | None:
    """The one-line message for an OSError the environment caused (disk full, read-only, ...), else None."""
    if exc.errno not in _ENVIRONMENT_ERRNOS:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or os.strerror(exc.errno)
    text = f"cannot write {where}: {reason}" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) \
        else f"{where}: {reason}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        text += " (files finished before this one are kept; free some space and rerun the same command)"
    return text


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, except that ``KEY=VALUE`` overrides may also follow options
    (``train --model m a.b=1 --data d c.d=2``): argparse takes one run of a ``nargs="*"`` positional only."""
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "overrides", None), list) \
            and all("=" in item and not item.startswith("-") for item in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    debug = debug_enabled(args)
    try:
        status = args.func(args)
    except TagformerError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(getattr(args, "interrupt_hint", None) or _DEFAULT_INTERRUPT, file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        message = environment_error_message(exc)
        if message is None:
            raise
        if debug:
            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USER_ERROR
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
