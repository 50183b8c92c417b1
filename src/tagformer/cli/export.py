"""``tagformer export RUN --onnx [--int8]``: ONNX (+ int8) with normalisation, parity on the test split."""

from __future__ import annotations

import argparse

from tagformer.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a trained run to ONNX (optionally int8) and check parity on its test split",
        description="Export RUN's best model to ONNX with dynamic batch and particle axes and the input "
        "normalisation inside the graph (inputs: raw features, p4, mask; output: logits). Checks "
        "onnxruntime against torch on the run's test split and writes export.json next to the model.",
    )
    p.add_argument("run", metavar="RUN", help="run directory written by tagformer train")
    p.add_argument("--onnx", action="store_true", help="export to ONNX (the only format so far; required)")
    p.add_argument("--int8", action="store_true", help="also write an int8 dynamically quantised graph")
    p.add_argument("--out", default=None, help="output directory (default RUN/export)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.add_argument("--max-jets", type=int, default=None, help="check parity on at most this many test jets")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.onnx:
        raise ConfigError("choose an export format: --onnx (optionally with --int8)")
    if args.max_jets is not None and args.max_jets < 1:
        raise ConfigError(f"--max-jets must be >= 1, got {args.max_jets}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    from tagformer.export.pipeline import export_run, iter_summary

    report = export_run(args.run, args.out, int8=args.int8, overwrite=args.overwrite, max_jets=args.max_jets,
                        threads=args.threads, log=lambda msg: print(msg, flush=True))
    for line in iter_summary(report):
        print(line)
    return 0 if report["parity"]["passed"] else 1
