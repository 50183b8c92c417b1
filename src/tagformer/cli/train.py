"""``tagformer train``: train one model on one dataset into a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tagformer.errors import ConfigError

if TYPE_CHECKING:
    from tagformer.config import RunConfig

INTERRUPT_HINT = ("interrupted: the run directory keeps the last checkpoint; add --resume to the same command to "
                  "continue from it")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model (Lightning loop, checkpoints, resume, early stopping)",
        description="Train MODEL on DATA. Settings merge as: packaged configs/base.yaml, configs/<model>.yaml, "
        "--config FILE, --model/--data, then dotted overrides such as trainer.max_epochs=3 model.dim=32 "
        "data.num_particles=150 (values parsed as YAML). The run directory must be new or empty; it "
        "receives config.yaml, normaliser.json, dataset.json, checkpoints/{last.ckpt,best.pt}, metrics.csv, "
        "logs/ and summary.json. With --resume, only how long and how training runs may change "
        "(trainer.max_epochs, trainer.max_time_s, trainer.patience, devices, threads, ...); a resume that "
        "cannot proceed changes nothing in the run directory.",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    p.add_argument("--model", help="model or preset name (see `tagformer models`)")
    p.add_argument("--data", help="dataset file, directory or glob")
    p.add_argument("--config", help="a run YAML file (same sections as configs/base.yaml)")
    p.add_argument("--run-dir", help="run directory, new or empty (default runs/<model>-seed<seed>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its last checkpoint (starts it if it does not exist)")
    p.add_argument("--devices", type=int, default=None, help="number of devices; > 1 trains with DDP")
    p.add_argument("--task", help="what to train: classification (default), regression (the jet mass, target "
                   "`mass`), or both comma-separated, e.g. classification,regression; loss weights and options "
                   "via the config's tasks: list")
    p.add_argument("--init-from", metavar="RUN", help="start the encoder from a `tagformer pretrain` run")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="with --init-from: train the heads only (linear probe)")
    p.set_defaults(func=run, interrupt_hint=INTERRUPT_HINT)


def _default_run_dir(cfg: RunConfig) -> Path:
    """``runs/<preset>-seed<seed>`` (the preset the config's model name resolved to)."""
    return Path("runs") / f"{cfg.model.choice.preset}-seed{cfg.seed}"


def task_overrides(spec: str | None) -> list[str]:
    """``--task classification,regression`` as a ``tasks=[...]`` override (none when not given)."""
    if not spec:
        return []
    kinds = [k.strip() for k in spec.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ("classification", "regression")]
    if not kinds or bad or len(set(kinds)) != len(kinds):
        raise ConfigError(f"--task {spec!r}: give classification, regression or classification,regression")
    return ["tasks=[" + ", ".join(f"{{kind: {k}}}" for k in kinds) + "]"]


def finetune_overrides(args: argparse.Namespace) -> list[str]:
    """``--init-from`` / ``--freeze-encoder`` as ``finetune.*`` overrides."""
    out = []
    if args.init_from:
        out.append(f"finetune.init_from={args.init_from}")
    if args.freeze_encoder:
        out.append("finetune.freeze_encoder=true")
    return out


def _resume_keeps_setup(args: argparse.Namespace) -> None:
    if args.task or args.init_from or args.freeze_encoder:
        raise ConfigError("--task, --init-from and --freeze-encoder set up a new run; resuming keeps the run's own "
                          "(drop them, or give a new --run-dir)")


def run(args: argparse.Namespace) -> int:
    from tagformer.config import build_config
    from tagformer.rundir import RunDir
    from tagformer.train.run import train

    if args.devices is not None and args.devices < 1:
        raise ConfigError(f"--devices must be >= 1, got {args.devices}")
    run_dir = Path(args.run_dir) if args.run_dir else None
    if args.resume and run_dir is None and not (args.model or args.config):
        raise ConfigError("--resume needs --run-dir (or the --model/--data/--config of the original run)")
    if args.resume and run_dir is not None and RunDir(run_dir).is_run():
        _resume_keeps_setup(args)
        summary = train(None, run_dir, resume=True, overrides=args.overrides, devices=args.devices,
                        model=args.model, data=args.data, config_file=args.config)
    else:
        if not (args.model or args.config):
            raise ConfigError("give --model NAME (or a --config file that sets model.name)")
        overrides = [*task_overrides(args.task), *finetune_overrides(args), *args.overrides]
        cfg = build_config(model=args.model, data=args.data, config_file=args.config, overrides=overrides)
        run_dir = run_dir or _default_run_dir(cfg)
        if args.resume and RunDir(run_dir).is_run():
            _resume_keeps_setup(args)
            summary = train(None, run_dir, resume=True, overrides=args.overrides, devices=args.devices,
                            model=args.model, data=args.data, config_file=args.config)
        else:
            summary = train(cfg, run_dir, devices=args.devices)
    if summary and "val_acc" not in summary.get("val", {}):
        val = summary.get("val", {})
        print(f"run {run_dir}: {summary['preset']} ({', '.join(summary.get('tasks', []))}) best epoch "
              f"{summary['best_epoch']} val_loss {val.get('val_loss', float('nan')):.4f}; {summary['params']:,} "
              f"params; {summary['wall_time_s']:.0f} s")
    elif summary:
        val = summary.get("val", {})
        flops = summary.get("flops_per_jet")
        print(f"run {run_dir}: {summary['preset']} best epoch {summary['best_epoch']} "
              f"val_acc {val.get('val_acc', float('nan')):.4f} val_loss {val.get('val_loss', float('nan')):.4f}; "
              f"{summary['params']:,} params, {flops / 1e6 if flops else float('nan'):.3f}M FLOPs/jet "
              f"(N={summary['num_particles']}); {summary['wall_time_s']:.0f} s")
    return 0
