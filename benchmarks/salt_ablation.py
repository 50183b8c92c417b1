"""SAL-T ablation: which of tagformer's choices against the reference TF code's costs accuracy.

Trains every variant x seed on one jet file through the library API (``tagformer.train.run.train``,
then ``tagformer.eval.evaluate.evaluate_run`` on the run's test split, best-validation weights) and prints
one row per variant: seeds, test accuracy and macro AUC as mean +- std (sample std over seeds), and the
per-seed accuracies. All variants share the data split (``data.seed`` fixed); ``--seeds`` sets the
model/shuffle seeds 0..S-1.

Variants change one thing at a time from ``salt`` (tagformer's earlier choices: rank partitions,
per-channel DyT ``w tanh(alpha x) + b``, torch initialisation) towards ``salt_ref`` (the reference's:
position partitions, ``tanh(alpha x + beta)``, Glorot-uniform with zero biases), and back from
``salt_ref`` one at a time; the LayerNorm variants replace DyT (epsilon 1e-5 vs the reference's 1e-6
for its LayerNorms elsewhere). Recipes:

* ``fixed`` (default for the architecture variants): the issue-18 comparison recipe: Adam 1e-3, no weight
  decay, constant LR without warm-up, no clipping, batch 256, ``--epochs`` epochs, no early stop;
* ``paper``: ``configs/recipes/salt_paper.yaml`` (batch 128, patience 40) with ``--epochs`` epochs;
* ``tagformer``: ``configs/base.yaml`` (AdamW, cosine, clipping 1.0, patience 5) with ``--epochs`` epochs.

Usage (the full run resolves 1-2 points: >= 5 seeds, the issue's 20k jets at N = 50, 10 epochs):

    .venv/bin/python benchmarks/salt_ablation.py --data JETS.h5 --seeds 5 --epochs 10 --num-particles 50 \\
        --out salt_ablation.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

#: id -> (row label, preset, model overrides, recipe)
VARIANTS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "salt": ("salt (tagformer choices)", "salt", {}, "fixed"),
    "salt+position": ("salt + position partitions", "salt", {"partition_rule": "position"}, "fixed"),
    "salt+dyt_scalar": ("salt + tanh(alpha x + beta) DyT", "salt", {"norm": "dyt_scalar"}, "fixed"),
    "salt+glorot": ("salt + Glorot init", "salt", {"init": "glorot"}, "fixed"),
    "ref": ("salt_ref (reference choices)", "salt_ref", {}, "fixed"),
    "ref-rank": ("salt_ref with rank partitions", "salt_ref", {"partition_rule": "rank"}, "fixed"),
    "ref-dyt": ("salt_ref with per-channel DyT", "salt_ref", {"norm": "dyt"}, "fixed"),
    "ref-torchinit": ("salt_ref with torch init", "salt_ref", {"init": "torch"}, "fixed"),
    "ref+ln1e-5": ("salt_ref with LayerNorm, eps 1e-5", "salt_ref", {"norm": "layer", "norm_eps": 1e-5}, "fixed"),
    "ref+ln1e-6": ("salt_ref with LayerNorm, eps 1e-6", "salt_ref", {"norm": "layer", "norm_eps": 1e-6}, "fixed"),
    "ref@paper": ("salt_ref, paper recipe", "salt_ref", {}, "paper"),
    "ref@tagformer": ("salt_ref, tagformer recipe", "salt_ref", {}, "tagformer"),
    "salt@tagformer": ("salt, tagformer recipe", "salt", {}, "tagformer"),
}


def recipe_args(recipe: str, epochs: int) -> tuple[Path | None, list[str]]:
    """Config file and overrides of a recipe at a fixed epoch budget."""
    budget = [f"trainer.max_epochs={epochs}"]
    if recipe == "fixed":
        return None, [*budget, "optim.name=adam", "optim.lr=1e-3", "optim.weight_decay=0", "schedule.name=constant",
                      "schedule.warmup_fraction=0", "trainer.grad_clip=null", "data.batch_size=256",
                      f"trainer.patience={epochs}", "trainer.monitor=val_loss"]
    if recipe == "paper":
        with resources.as_file(resources.files("tagformer") / "configs" / "recipes" / "salt_paper.yaml") as path:
            return Path(path), budget
    if recipe == "tagformer":
        return None, budget
    raise ValueError(f"unknown recipe {recipe!r}")


def train_one(name: str, seed: int, args: argparse.Namespace, run_dir: Path) -> dict[str, float]:
    from tagformer.config import build_config
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.train.run import train

    _, preset, model_overrides, recipe = VARIANTS[name]
    config_file, overrides = recipe_args(recipe, args.epochs)
    overrides = [*overrides, f"seed={seed}", f"data.num_particles={args.num_particles}",
                 "trainer.progress=false", f"trainer.threads={args.threads}", "trainer.accelerator=cpu",
                 *(f"model.{k}={v}" for k, v in model_overrides.items())]
    if args.max_jets:
        overrides.append(f"data.max_jets={args.max_jets}")
    cfg = build_config(model=preset, data=args.data, config_file=config_file, overrides=overrides)
    train(cfg, run_dir)
    metrics = evaluate_run(run_dir, plots=False)
    return {"accuracy": float(metrics["accuracy"]), "auc": float(metrics["auc_macro"] or float("nan"))}


def summarise(name: str, results: list[dict[str, float]]) -> dict[str, Any]:
    acc = [r["accuracy"] for r in results]
    auc = [r["auc"] for r in results]

    def sd(xs: list[float]) -> float:
        return statistics.stdev(xs) if len(xs) > 1 else float("nan")

    return {"variant": name, "seeds": len(results), "acc_mean": statistics.fmean(acc), "acc_std": sd(acc),
            "auc_mean": statistics.fmean(auc), "auc_std": sd(auc), "acc_per_seed": acc}


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| variant | seeds | test accuracy | macro AUC | accuracy per seed |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['seeds']} | {r['acc_mean']:.4f} +- {r['acc_std']:.4f} "
                     f"| {r['auc_mean']:.4f} +- {r['auc_std']:.4f} | "
                     f"{', '.join(f'{a:.3f}' for a in r['acc_per_seed'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="jet file (any format tagformer reads)")
    ap.add_argument("--variants", default=None, help=f"comma-separated ids, default all: {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--num-particles", type=int, default=50)
    ap.add_argument("--max-jets", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workdir", default=None, help="keep the run directories here (default: a temporary one)")
    ap.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",")] if args.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")

    print(f"data {args.data}, N = {args.num_particles}, {args.epochs} epochs, seeds 0..{args.seeds - 1}, "
          f"{args.threads} thread(s), load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.workdir or tmp)
        for index, name in enumerate(names):
            results = []
            for seed in range(args.seeds):
                results.append(train_one(name, seed, args, root / f"variant{index:02d}-seed{seed}"))
                print(f"  {VARIANTS[name][0]}, seed {seed}: accuracy {results[-1]['accuracy']:.4f}, "
                      f"macro AUC {results[-1]['auc']:.4f}", flush=True)
            rows.append(summarise(VARIANTS[name][0], results))
    print(to_markdown(rows))
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
