"""``tagformer search``: hardware-aware architecture search (NSGA-II over model families), ``--report``, or the
local stage ``--finalize``."""

from __future__ import annotations

import argparse

from tagformer.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search",
        help="search architectures for the Pareto front of accuracy against cost (Optuna NSGA-II)",
        description="Search the families and ranges of --space (a YAML file or a packaged space name, e.g. "
        "default) on --data: each trial trains a candidate at the space's fixed budget into OUT/trials/ "
        "(kept), records the space's objectives (val_acc, val_loss, r08, flops, params, latency_ms, "
        "throughput, and with the fpga extra fpga_lut, fpga_latency_ns, fpga_acc measured on the trained weights) "
        "under its constraints in an Optuna study (SQLite OUT/study.db by default). Rerunning "
        "the same command resumes: finished trials are kept, trials of a killed worker run again from their "
        "last checkpoint. --trials is the size of the whole study, shared by all workers. Writes "
        "OUT/search.csv, OUT/pareto.md, OUT/pareto_*.png and OUT/pareto/trial-*.yaml (train one with "
        "`tagformer train --config`). `tagformer search --report OUT` redraws these from the storage. "
        "`tagformer search --finalize OUT` is the local stage: the Pareto trials (or --top K of them, or --pick "
        "3,17) trained again for --epochs into OUT/final/trial-NNNN, evaluated on the test split and, with the "
        "fpga extra, taken through the hardware path with quantisation-aware fine-tuning; writes "
        "OUT/final/final.csv and final.md; rerun to resume. "
        "Needs the search extra: pip install 'tagformer[search]'.",
    )
    p.add_argument("--space", help="search-space YAML file or packaged space name (configs/search/NAME.yaml)")
    p.add_argument("--data", help="dataset file, directory or glob")
    p.add_argument("--trials", type=int, help="number of trials of the study (all workers together)")
    p.add_argument("--out", help="output directory (default search/<space name>)")
    p.add_argument("--storage", help="Optuna RDB URL (default sqlite:///OUT/study.db); share it across nodes")
    p.add_argument("--study", help="study name in the storage (default: the space's name)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--no-references", action="store_true",
                   help="do not train the space's reference presets here (e.g. on extra nodes)")
    p.add_argument("--no-report", action="store_true", help="skip the report at the end")
    p.add_argument("--grace", type=float, default=300.0, metavar="SECONDS",
                   help="a running trial whose heartbeat is older than this is taken for dead (default 300)")
    p.add_argument("--report", metavar="DIR", help="only redraw the report of the search in DIR from its storage")
    f = p.add_argument_group("local stage (--finalize)")
    f.add_argument("--finalize", metavar="DIR", help="train, test and take through the hardware path the chosen "
                   "trials of the search in DIR (default: its Pareto trials)")
    f.add_argument("--top", type=int, metavar="K",
                   help="only the first K Pareto trials (ordered by the first objective)")
    f.add_argument("--pick", metavar="TRIALS", help="these trials instead of the Pareto ones, e.g. 3,17")
    f.add_argument("--epochs", type=int, default=30, help="trainer.max_epochs of the longer training (default 30)")
    f.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="a further run-config override of the longer training (repeatable), e.g. trainer.patience=8")
    f.add_argument("--fpga-bits", type=int, metavar="B",
                   help="width of the hardware path (default: the space's fpga.bits, else 8)")
    f.add_argument("--finetune-epochs", type=int, default=3,
                   help="quantisation-aware fine-tuning epochs of the hardware path (default 3)")
    f.add_argument("--no-fpga", action="store_true", help="skip the hardware path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tagformer.search.run import open_existing, quiet_logs, require_optuna, run_search

    require_optuna()
    quiet_logs()
    if args.report and args.finalize:
        raise ConfigError("--report and --finalize are two different jobs; give one of them")
    if args.finalize:
        return _finalize(args)
    if args.report:
        from tagformer.search.report import write_report

        paths = write_report(open_existing(args.report, args.storage, args.study), args.report)
        _print(paths)
        return 0
    missing = [flag for flag, value in (("--space", args.space), ("--data", args.data), ("--trials", args.trials))
               if value is None]
    if missing:
        raise ConfigError(f"tagformer search needs {', '.join(missing)} (or --report DIR to redraw a report)")
    paths = run_search(args.space, args.data, trials=args.trials, out_dir=args.out, storage=args.storage,
                       study_name=args.study, workers=args.workers, references=not args.no_references,
                       report=not args.no_report, grace_s=args.grace, log=lambda line: print(line, flush=True))
    _print(paths)
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from tagformer.search.finalize import finalize

    picked = None
    if args.pick:
        try:
            picked = [int(x) for x in args.pick.split(",") if x.strip()]
        except ValueError as exc:
            raise ConfigError(f"--pick must be comma-separated trial numbers, e.g. 3,17; got {args.pick!r}") from exc
    out = finalize(args.finalize, storage=args.storage, study_name=args.study, top=args.top, trials=picked,
                   epochs=args.epochs, overrides=args.overrides, fpga=not args.no_fpga, fpga_bits=args.fpga_bits,
                   finetune_epochs=args.finetune_epochs, log=lambda line: print(line, flush=True))
    print(f"finalized trial(s) {', '.join(str(r['trial']) for r in out['rows'])}; wrote {out['csv']}, {out['table']}")
    return 0


def _print(paths: dict) -> None:
    if not paths:
        return
    print(f"Pareto trials: {', '.join(map(str, paths['pareto'])) or 'none yet'}")
    print(f"wrote {paths['csv']}, {paths['table']}, {len(paths['plots'])} plot(s), {len(paths['yamls'])} YAML(s)")
