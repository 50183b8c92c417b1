"""Entry point of the ``tagformer`` command: discovers subcommands and turns user errors into one line."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import tagformer
from tagformer.errors import TagformerError

#: Order in ``--help``; modules not listed here follow alphabetically.
_ORDER = ("quickstart", "generate", "merge", "inspect", "models", "train", "evaluate", "compare",
          "profile", "export")


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
    )
    parser.add_argument("--version", action="version", version=f"tagformer {tagformer.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _subcommand_modules():
        module = importlib.import_module(f"tagformer.cli.{name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        status = args.func(args)
    except TagformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume where it stopped", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
