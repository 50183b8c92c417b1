"""Train and evaluate every trigger-size zoo model over several seeds (the docs/results.md table).

One process handles a shard of the (model, seed) jobs in-process (imports once); jobs are idempotent:
finished runs are skipped, interrupted ones resume. ``benchmarks/run_results.sh`` runs the shards and the
comparison. Prints a line per job and the table last.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TRIGGER_MODELS = ("deepsets_tiny", "pointnet_tiny", "interaction_net_tiny", "linformer_tiny", "salt", "hept_small",
                  "phat_small", "transformer_tiny", "part_tiny", "lorentz_part_tiny")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default="data/gen5_20k.h5")
    p.add_argument("--out", default="runs/results")
    p.add_argument("--models", default=",".join(TRIGGER_MODELS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--shard", default="0/1", help="i/n: run every n-th job starting at i")
    p.add_argument("overrides", nargs="*", help="dotted config overrides for every run")
    args = p.parse_args()

    import torch

    from tagformer.config import build_config
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.train.run import train

    torch.set_num_threads(1)
    i, n = (int(v) for v in args.shard.split("/"))
    # seed-major, so that an early stop leaves every model with the same number of seeds
    jobs = [(m, int(s)) for s in args.seeds.split(",") for m in args.models.split(",")][i::n]
    for model, seed in jobs:
        run = Path(args.out) / f"{model}-seed{seed}"
        if (run / "metrics.json").exists():
            print(f"{run}: done", flush=True)
            continue
        t0 = time.perf_counter()
        try:
            if not (run / "summary.json").exists():
                resume = (run / "config.yaml").exists()
                cfg = None if resume else build_config(model=model, data=args.data,
                                                       overrides=[f"seed={seed}", *args.overrides])
                train(cfg, run, resume=resume)
            m = evaluate_run(run)
        except Exception as exc:  # report and go on with the other jobs
            print(f"{run}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        print(f"{run}: acc {m['accuracy']:.4f} auc {m['auc_macro']:.4f} "
              f"R0.8 {m['rejection_average'].get('0.8')} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
