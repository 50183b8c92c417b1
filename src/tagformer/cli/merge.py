"""``tagformer merge``: join the shards of ``generate --shard i/n`` runs into one file."""

from __future__ import annotations

import argparse
import shlex


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("merge", help="join generated shards (OUTPUT.parts/) into one HDF5 file",
                              description="Join the shards written by `tagformer generate OUTPUT --shard I/N` "
                              "into OUTPUT.")
    p.add_argument("output", help="the OUTPUT given to `generate`")
    p.add_argument("--parts", default=None, help="parts directory (default OUTPUT.parts)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--keep-parts", action="store_true", help="keep the shards after merging")
    p.add_argument("--partial", action="store_true",
                   help="merge only the finished balanced part of a run in progress (keeps the shards); "
                   "give --parts and a different OUTPUT (the run's own output is refused)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tagformer.data.generate import merge_parts

    path = merge_parts(args.output, args.parts, overwrite=args.overwrite, keep_parts=args.keep_parts,
                       command=shlex.join(["tagformer", "merge", str(args.output)]), partial=args.partial)
    print(f"merged shards into {path}")
    return 0
