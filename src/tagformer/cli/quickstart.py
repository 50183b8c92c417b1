"""``tagformer quickstart``: data -> three trained models -> evaluation -> comparison, in minutes on a CPU."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quickstart",
        help="end-to-end demo: generate a small dataset, train 3 models, evaluate, compare",
        description="Generate a small 5-class dataset (unless --data or OUT/jets_5class.h5 exists), train a "
        "baseline, a transformer and an efficient transformer for a fixed number of epochs each (a per-model "
        "time cap stops a model on very slow machines, and says so), evaluate and compare them. "
        "Rerunning reuses finished steps and resumes interrupted training.",
    )
    p.add_argument("--out", default="quickstart", help="output directory (default quickstart/)")
    p.add_argument("--data", help="use this dataset instead of generating one")
    p.add_argument("--jets-per-class", type=int, default=3000, help="jets per class to generate (default 3000)")
    p.add_argument("--particles", type=int, default=64, help="particles per jet N (default 64)")
    p.add_argument("--epochs", type=int, default=20, help="epochs per model (default 20)")
    p.add_argument("--minutes", type=float, default=15.0,
                   help="safety cap on training time per model; reported when it cuts a model short (default 15)")
    p.add_argument("--models", help="comma-separated models/presets (default: one baseline, transformer, PHAT)")
    p.add_argument("--workers", type=int, default=2, help="generation processes (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tagformer.errors import ConfigError
    from tagformer.quickstart import QuickstartConfig, run_quickstart

    if args.jets_per_class < 10 or args.epochs < 1 or args.minutes <= 0 or args.particles < 1:
        raise ConfigError("--jets-per-class >= 10, --epochs >= 1, --minutes > 0 and --particles >= 1 are required")
    cfg = QuickstartConfig(
        out=Path(args.out), data=Path(args.data) if args.data else None, jets_per_class=args.jets_per_class,
        num_particles=args.particles, max_epochs=args.epochs, max_time_s=args.minutes * 60,
        models=[m.strip() for m in args.models.split(",") if m.strip()] if args.models else None,
        generate_workers=args.workers,
    )
    result = run_quickstart(cfg, say=lambda msg: print(msg, flush=True))
    print()
    print(result["table"], end="")
    for path in result["plots"]:
        print(f"wrote {path}")
    print(f"runs in {cfg.out / 'runs'}; table in {cfg.out / 'compare.md'}")
    return 0
