"""``tagformer compare``: one table across evaluated runs (mean ± std over seeds) and cost plots."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare evaluated runs: accuracy, AUC, rejection vs params and FLOPs",
        description="Tabulate evaluated runs (markdown on stdout; CSV with --csv). Runs of the same preset, "
        "overrides and N evaluated on the same split of the same dataset are grouped and shown as mean ± std "
        "over seeds; the last column names what they were evaluated on (runs evaluated on different data "
        "stay in separate rows, with a warning). Runs with a mass-regression head add columns: class-averaged "
        "median response and resolution of the regressed and of the reco soft-drop mass, and the background "
        "sculpting JSD after the tagger cuts (docs/metrics.md). A RUN may also be a directory holding run "
        "directories.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or parents of run directories)")
    p.add_argument("--csv", help="write the table as CSV to this file (an existing file is replaced only if an "
                   "earlier compare wrote it, or with --overwrite)")
    p.add_argument("--plot", metavar="DIR", help="write accuracy/rejection vs FLOPs/params plots to DIR")
    p.add_argument("--profile", metavar="CSV", help="a `tagformer profile` CSV: adds latency and throughput")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --csv and --plot files even if tagformer compare did not write them")
    p.set_defaults(func=run)


def expand_runs(paths: list[str]) -> list[Path]:
    """Each path itself if it is a run directory, else its sub-directories that are runs.

    A run named explicitly must be finished and evaluated (else ``compare_runs`` says so); inside a
    directory of runs, unfinished or unevaluated ones (e.g. still training) are skipped with a warning.
    """
    import sys

    from tagformer.errors import TagformerError
    from tagformer.rundir import RunDir

    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if RunDir(path).is_run() or not path.is_dir():
            out.append(path)
            continue
        children = sorted(p for p in path.iterdir() if RunDir(p).is_run())
        if not children:
            raise TagformerError(f"{path} is neither a run directory nor a directory of runs")
        ready = [c for c in children if RunDir(c).is_finished() and RunDir(c).is_evaluated()]
        for child in children:
            if child not in ready:
                print(f"warning: skipping {child}: not finished or not evaluated yet", file=sys.stderr)
        if not ready:
            raise TagformerError(f"no finished, evaluated run in {path}")
        out.extend(ready)
    return out


def check_outputs(args: argparse.Namespace) -> None:
    """Before any work: --csv and --plot may only replace files an earlier compare wrote (or --overwrite)."""
    from tagformer.atomic import check_output_dir, check_replaceable
    from tagformer.eval.compare import is_own_csv, plot_paths
    from tagformer.eval.plots import is_own_png

    if args.csv:
        check_replaceable(args.csv, is_own_csv, overwrite=args.overwrite, what="--csv file")
    if args.plot:
        check_output_dir(args.plot, "--plot directory")
        for path in plot_paths(args.plot):
            check_replaceable(path, is_own_png, overwrite=args.overwrite, what="plot")


def run(args: argparse.Namespace) -> int:
    import sys

    from tagformer.atomic import atomic_write_text
    from tagformer.eval.compare import compare_runs, join_profile, read_profile, to_csv, to_markdown, write_plots

    check_outputs(args)
    rows = compare_runs(expand_runs(args.runs), warn=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    if args.profile:
        rows = join_profile(rows, read_profile(args.profile))
    print(to_markdown(rows), end="")
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.csv, to_csv(rows))
        print(f"wrote {args.csv}")
    if args.plot:
        for path in write_plots(rows, args.plot):
            print(f"wrote {path}")
    return 0
