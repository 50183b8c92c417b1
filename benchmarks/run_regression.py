"""Jet mass regression study (docs/results.md, "Jet mass regression"): each encoder trained three ways -
classification only, regression only, classification + regression - over several seeds, then evaluated.

One process handles a shard of the (seed, model, tasks) jobs in-process; jobs are idempotent: finished runs
are skipped, interrupted ones resume. Prints a line per job. Then tabulate with
``tagformer compare OUT --csv OUT/regression.csv``.

    .venv/bin/python benchmarks/run_regression.py --data data/gen5_20k_truth.h5 --out runs/regression \\
        --shard 0/2 trainer.max_epochs=6 &
    .venv/bin/python benchmarks/run_regression.py ... --shard 1/2 ... &
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

MODELS = ("deepsets_tiny", "pointnet_tiny", "phat_small")
TASKS = {"cls": ["classification"], "reg": ["regression"], "mt": ["classification", "regression"]}


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _line(run: Path, m: dict, seconds: float) -> str:
    parts = [f"{run}:"]
    if "accuracy" in m:
        parts.append(f"acc {m['accuracy']:.4f}")
    for head, r in (m.get("regression") or {}).items():
        s = r["summary"]
        parts.append(f"{head}: response {_f(s['response'])} resolution {_f(s['resolution'])} "
                     f"(soft drop {_f(s['sd_response'])} / {_f(s['sd_resolution'])})")
    parts.append(f"({seconds:.0f} s)")
    return " ".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="runs/regression")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list of {', '.join(TASKS)}")
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
    jobs = [(m, t, int(s)) for s in args.seeds.split(",") for m in args.models.split(",")
            for t in args.tasks.split(",")][i::n]
    for model, tasks, seed in jobs:
        run = Path(args.out) / f"{model}-{tasks}-seed{seed}"
        if (run / "metrics.json").exists():
            print(f"{run}: done", flush=True)
            continue
        t0 = time.perf_counter()
        kinds = ", ".join(f"{{kind: {k}}}" for k in TASKS[tasks])
        try:
            if not (run / "summary.json").exists():
                resume = (run / "config.yaml").exists()
                cfg = None if resume else build_config(
                    model=model, data=args.data, overrides=[f"seed={seed}", f"tasks=[{kinds}]", *args.overrides])
                train(cfg, run, resume=resume)
            m = evaluate_run(run)
        except Exception as exc:  # report and go on with the other jobs
            print(f"{run}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        print(_line(run, m, time.perf_counter() - t0), flush=True)


if __name__ == "__main__":
    main()
