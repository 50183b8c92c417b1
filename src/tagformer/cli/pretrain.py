"""``tagformer pretrain``: self-supervised pretraining of a zoo encoder into a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from tagformer.errors import ConfigError

INTERRUPT_HINT = ("interrupted: the run directory keeps the last checkpoint; add --resume to the same command to "
                  "continue from it")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain an encoder without labels (mpm, jjepa, rino)",
        description="Pretrain the encoder of MODEL on the jets of DATA without reading their labels, with masked "
        "particle modelling (mpm), the jet joint-embedding predictive architecture (jjepa) or RG-invariant "
        "self-distillation (rino). Settings merge as for `tagformer train`, plus a pretrain section "
        "(pretrain.mpm.mask_fraction=0.3, pretrain.jjepa.target_fraction=0.3, ...). The run directory has the "
        "layout of a training run; its best weights are the encoder and input normalisation, which "
        "`tagformer train --init-from RUN` starts from. See docs/pretraining.md.",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    p.add_argument("--model", help="model or preset name (see `tagformer models`)")
    p.add_argument("--method", help="mpm, jjepa or rino (default: pretrain.method, mpm)")
    p.add_argument("--data", help="dataset file, directory or glob (labels are ignored)")
    p.add_argument("--out", "--run-dir", dest="out", required=True, help="run directory, new or empty")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--devices", type=int, default=None, help="number of devices; > 1 trains with DDP")
    p.set_defaults(func=run, interrupt_hint=INTERRUPT_HINT)


def run(args: argparse.Namespace) -> int:
    from tagformer.pretrain.config import METHODS, build_pretrain_config
    from tagformer.pretrain.run import pretrain
    from tagformer.rundir import RunDir

    if args.method is not None and args.method not in METHODS:
        raise ConfigError(f"unknown pretraining method {args.method!r}; choose one of {', '.join(METHODS)}")
    if args.devices is not None and args.devices < 1:
        raise ConfigError(f"--devices must be >= 1, got {args.devices}")
    out = Path(args.out)
    if args.resume and RunDir(out).is_run():
        summary = pretrain(None, out, resume=True, overrides=args.overrides, model=args.model, data=args.data,
                           method=args.method, devices=args.devices)
    else:
        if not args.model:
            raise ConfigError("give --model NAME (see `tagformer models`)")
        cfg = build_pretrain_config(model=args.model, data=args.data, method=args.method, overrides=args.overrides)
        summary = pretrain(cfg, out, devices=args.devices)
    if summary:
        collapsed = " - the embedding COLLAPSED (per-dimension spread ~0)" if summary.get("collapsed") else ""
        print(f"pretrain run {out}: {summary['pretrain_method']} on {summary['preset']}, best epoch "
              f"{summary['best_epoch']} val_loss {summary['best_val_loss']:.4f}; {summary['jets_seen']:,} jets, "
              f"{summary['wall_time_s']:.0f} s; embedding std {summary.get('emb_std') or float('nan'):.3g}, "
              f"rank {summary.get('emb_rank') or float('nan'):.3g}{collapsed}")
    return 0
