"""``tagformer inspect``: per-class counts and medians of a jet file, optional histograms."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("inspect",
                              help="per-class counts, medians and feature ranges of a jet file (any format)",
                              description="Print per-class counts and medians of mass, soft-drop mass, tau21, "
                              "tau32 and multiplicity; --plot writes histograms.")
    p.add_argument("file", help="data file, directory or glob (generated files get the generation summary)")
    p.add_argument("--plot", default=None, metavar="DIR", help="write one PNG histogram per observable here")
    p.add_argument("--overwrite", action="store_true",
                   help="replace PNGs in the --plot directory that tagformer did not write")
    p.add_argument("--format", default=None, help="hls4ml | jetclass | toptagging | quarkgluon (default: "
                   "detect); anything but a generated file is summarised by tagformer.data.describe")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tagformer.data.describe import describe, is_generated
    from tagformer.data.summary import plot_histograms, summarize, summary_table

    if args.format not in (None, "hls4ml") or not is_generated(args.file):
        print(describe(args.file, format=args.format))
        return 0
    summaries = summarize(args.file)
    console = Console()
    console.print(summary_table(args.file, summaries))
    if args.plot:
        files = plot_histograms(args.file, args.plot, overwrite=args.overwrite)
        console.print(f"wrote {len(files)} plots to {args.plot}")
    return 0
