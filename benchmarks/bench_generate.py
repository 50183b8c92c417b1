"""Generation speed: jets/s per worker, Pythia's own event rate, and the share of time outside Pythia.

For each class, one shard of ``--jets`` jets is generated in this process (one worker) at default
physics settings, timing every stage. Then a fresh Pythia with the same settings and seed generates
the same number of events with nothing else done (Pythia's own rate). The figure printed last is the
share of the generation's wall time spent outside Pythia (detector, clustering, matching, features,
I/O); Pythia's time includes its initialisation.

Usage: ``python benchmarks/bench_generate.py [--jets 300] [--classes g,q,w,z,t]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tagformer.data.generate.config import make_config
from tagformer.data.generate.pythia import make_pythia, shard_seeds
from tagformer.data.generate.shard import ShardSpec, generate_shard
from tagformer.data.generate.writer import write_arrays


def pythia_only(config, label: str, index: int, events: int) -> float:
    """Seconds for Pythia alone (init + the same number of events, same seed)."""
    seed, _ = shard_seeds(config.seed, label, index)
    t0 = time.perf_counter()
    py = make_pythia(config, label, seed)
    done = 0
    while done < events:
        n = min(config.batch_events, events - done)
        py.nextBatch(n)
        done += n
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=300, help="jets per class")
    parser.add_argument("--classes", default="g,q,w,z,t")
    parser.add_argument("--index", type=int, default=900, help="shard index (sets the seeds)")
    args = parser.parse_args()
    config = make_config(output=Path(tempfile.gettempdir()) / "bench_generate.h5", classes=args.classes)
    print(f"machine: {os.cpu_count()} CPU cores (shared; other work may be running), one worker process")
    print(f"settings: defaults (13 TeV, pT-hat {config.pthat_min:g}-{config.pthat_max:g} GeV, anti-kT R=0.8, "
          f"parametric detector, {config.n_constituents} constituents), {args.jets} jets per class\n")
    header = (f"{'class':5} {'jets/s':>7} {'events':>7} {'ev/s gen':>9} {'ev/s pythia':>11} {'pythia s':>8} "
              f"{'det s':>6} {'clus s':>6} {'match s':>7} {'feat s':>6} {'io s':>5} {'outside':>8}")
    generate_shard(config, ShardSpec(config.classes[0], args.index + 1, 5))  # warm-up: imports, first calls
    print(header)
    total = {"wall": 0.0, "pythia": 0.0}
    for label in config.classes:
        spec = ShardSpec(label, args.index, args.jets)
        t0 = time.perf_counter()
        result = generate_shard(config, spec)
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            write_arrays(Path(tmp) / "shard.h5", result.constituents, result.jets, {})
        wall = time.perf_counter() - t0
        io = time.perf_counter() - t1
        alone = pythia_only(config, label, args.index, result.events)
        tm = result.timings
        outside = 1 - tm["pythia"] / wall
        total["wall"] += wall
        total["pythia"] += tm["pythia"]
        print(f"{label:5} {args.jets / wall:7.1f} {result.events:7d} {result.events / wall:9.1f} "
              f"{result.events / alone:11.1f} {tm['pythia']:8.2f} {tm['detector']:6.2f} {tm['clustering']:6.2f} "
              f"{tm['matching']:7.2f} {tm['features']:6.2f} {io:5.2f} {outside:8.1%}")
    n_all = args.jets * len(config.classes)
    print(f"\nall classes: {n_all / total['wall']:.1f} jets/s per worker")
    print(f"share of wall time outside Pythia: {1 - total['pythia'] / total['wall']:.1%} (goal <= 10%)")


if __name__ == "__main__":
    main()
