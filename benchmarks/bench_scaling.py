"""Forward time per jet from N = 32 to N = 1024 for every registered model; fitted exponents last.

Usage: .venv/bin/python benchmarks/bench_scaling.py [--models PATTERN ...] [--preset model=preset ...]
       [--ns 32 64 ...] [--threads 1] [--fit-from 256]
"""

from __future__ import annotations

import argparse
import math

from tagformer.bench.machine import machine_description
from tagformer.bench.scaling import DEFAULT_NS, ScalingConfig, measure_model, to_markdown
from tagformer.models import list_models

LINEAR_GOAL = ("linformer", "salt", "phat", "hept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["*"], help="shell patterns of model names")
    parser.add_argument("--preset", nargs="*", default=[], help="model=preset overrides (default: smallest)")
    parser.add_argument("--ns", nargs="*", type=int, default=list(DEFAULT_NS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit-from", type=int, default=256)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timed calls per point")
    args = parser.parse_args()

    presets = dict(item.split("=", 1) for item in args.preset)
    names = sorted({n for pattern in args.models for n in list_models(pattern)})
    config = ScalingConfig(ns=tuple(args.ns), threads=args.threads, fit_from=args.fit_from, budget_s=args.budget)
    print(f"machine: {machine_description()}; threads={config.threads}; float32; eager (no compile); "
          f"inference_mode; all N slots real; batch = max({config.min_batch}, {config.jets_per_call * 128} // N); "
          f"median of <= {config.repeats} calls after warm-up", flush=True)
    results = []
    for name in names:
        result = measure_model(name, config, presets.get(name))
        results.append(result)
        print(f"  {name}: " + ", ".join(f"{t:.4f}" for t in result.ms_per_jet) + " ms/jet"
              + (f"  [{result.error}]" if result.error else ""), flush=True)
    print()
    print(to_markdown(results, config.fit_from))
    print()
    print(f"Fitted exponents (log-log slope of ms/jet over N in {[n for n in config.ns if n >= config.fit_from]}):")
    for r in results:
        exp = r.exponent(config.fit_from)
        goal = " (goal <= 1.15)" if r.model in LINEAR_GOAL else (" (expected ~2)" if r.model in ("transformer", "part")
                                                                   else "")
        print(f"  {r.model:14s} {exp:5.2f}{goal}" if math.isfinite(exp) else f"  {r.model:14s}   n/a")


if __name__ == "__main__":
    main()
