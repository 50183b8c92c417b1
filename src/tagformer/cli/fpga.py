"""``tagformer fpga RUN --bits B [--particles 16,32,64] --out DIR``: fixed-point fine-tuning, bit-exact
emulation and FPGA cost estimates of a trained run (needs the ``fpga`` extra)."""

from __future__ import annotations

import argparse

from tagformer.errors import ConfigError


def _particles(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--particles must be comma-separated integers, got {text!r}") from None
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fpga",
        help="quantise a trained run to fixed point, emulate it bit-exactly and estimate LUTs and latency",
        description="Build RUN's hardware variant, fine-tune it with fixed-point fake quantisation on the "
        "run's data, trace it through da4ml (bit-exact integer emulation, LUT and latency estimates) and "
        "write fpga.json and fpga.md. Supported models: deepsets (sum pooling), transformer (max pooling), "
        "salt (position partitions, max pooling), linformer (max pooling), phat (max jet pooling; the grid "
        "cells are circuit inputs from the trigger's input stage). "
        "Needs: pip install 'tagformer[fpga]'.",
    )
    p.add_argument("run", metavar="RUN", help="run directory written by tagformer train")
    p.add_argument("--bits", type=int, default=8, help="width of weights and activations (default 8)")
    p.add_argument("--particles", default="16", help="comma-separated particle counts N (default 16)")
    p.add_argument("--out", default=None, help="output directory (default RUN/fpga)")
    p.add_argument("--finetune-epochs", type=int, default=1, help="quantisation-aware fine-tuning epochs")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate")
    p.add_argument("--max-train-jets", type=int, default=20000, help="training jets used for fine-tuning")
    p.add_argument("--max-test-jets", type=int, default=2000, help="test jets for accuracy and emulation")
    p.add_argument("--project", action="store_true",
                   help="also write each circuit's HLS and Verilog projects to OUT/project/n<N>")
    p.add_argument("--csim", action="store_true",
                   help="also compile the HLS C++ (needs g++) and compare it with the emulation on the test jets "
                   "(implies --project)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tagformer.export.fpga.pipeline import fpga_run, markdown

    for flag in ("max_train_jets", "max_test_jets"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    out = Path(args.out) if args.out else Path(args.run) / "fpga"
    report = fpga_run(args.run, out, bits=args.bits, particles=_particles(args.particles),
                      finetune_epochs=args.finetune_epochs, max_train_jets=args.max_train_jets,
                      max_test_jets=args.max_test_jets, lr=args.lr,
                      project=args.project, csim=args.csim, log=lambda msg: print(msg, flush=True))
    print(markdown(report))
    print(f"wrote {out / 'fpga.json'} and {out / 'fpga.md'}")
    agree = all(r["emulation_mismatched_jets"] == 0 and r.get("csim_mismatched_jets", 0) == 0 for r in report["rows"])
    return 0 if agree else 1
