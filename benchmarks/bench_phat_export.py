"""PHAT-JeT's deployment graph against the eager model: jets/s at N = 16, 32, 64, 150.

The same ``phat_small`` weights run (a) in torch, eager, on the inference copy
(``prepare_for_inference``: packed real particles, occupied-cell grid message passing) and (b) exported
to ONNX with dynamic axes (``tagformer.export.onnx.export_onnx``) in onnxruntime (CPU provider). Same
jets, same thread count (default 1 intra-op thread for both), batch 1024. The logits are compared first.

Inputs (``--inputs``): ``full`` = ``tagformer.bench.inputs.synthetic_jets``, every slot real (the cost
convention of docs/metrics.md, the worst case for the grid), or ``hls4ml`` = multiplicity ~ N(50, 15)
clipped to [5, N], padding after the real particles, particles spread over an R = 0.8 cone (the inputs of
``benchmarks/bench_phat_grid.py``).

Each figure is the median of ``--repeats`` timed calls, as jets/s by wall time and by process CPU time
(with one thread, the speed on an idle core; on a shared machine the wall figures include waiting for
a core). The grid column says which formulation the exported graph picked for that batch (all pairs
or the dense grid, ``models/layers/grid.py``). The ratio (onnxruntime / eager, by CPU time) is last.

Usage: .venv/bin/python benchmarks/bench_phat_export.py [--particles 16,32,64,150] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from tagformer.bench.inputs import synthetic_jets
from tagformer.bench.machine import machine_description, num_threads
from tagformer.bench.timing import time_calls
from tagformer.data.batch import JetBatch
from tagformer.export.onnx import TensorTagger, export_onnx, onnx_logits, onnx_session
from tagformer.models import create_model
from tagformer.models.inference import prepare_for_inference
from tagformer.models.layers.cells import jet_cells
from tagformer.models.layers.grid import pairs_are_smaller

sys.path.insert(0, str(Path(__file__).parent))
from bench_phat_grid import hls4ml_like


def jets_for(inputs: str, batch: int, n: int) -> JetBatch:
    return synthetic_jets(batch, n, 3, seed=n) if inputs == "full" else hls4ml_like(batch, n, seed=n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="phat_small")
    ap.add_argument("--particles", default="16,32,64,150")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--inputs", choices=("full", "hls4ml"), default="full")
    args = ap.parse_args(argv)

    print(f"machine: {machine_description()}; {args.threads} thread(s); batch {args.batch}; inputs "
          f"{args.inputs}; repeats {args.repeats}; load average before {os.getloadavg()[0]:.2f}", flush=True)
    torch.manual_seed(0)
    model = create_model(args.preset, num_classes=5, in_features=3).eval()
    eager = prepare_for_inference(model)
    print("| N | grid in graph | max logit diff | eager jets/s wall / CPU | onnxruntime jets/s wall / CPU "
          "| onnxruntime / eager (CPU) |\n|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp, num_threads(args.threads):
        path = export_onnx(TensorTagger(model), synthetic_jets(4, 12, 3, seed=1), Path(tmp) / "phat.onnx",
                           name=args.preset)
        session = onnx_session(path, args.threads)
        for n in (int(x) for x in args.particles.split(",")):
            jets = jets_for(args.inputs, args.batch, n)
            f, p, m = jets.features.numpy(), jets.p4.numpy(), jets.mask.numpy()
            with torch.inference_mode():
                want = eager(jets).numpy()
            diff = float(np.abs(onnx_logits(session, f, p, m) - want).max())
            grid = "pairs" if bool(pairs_are_smaller(jet_cells(jets.p4, jets.mask), jets.mask)) else "dense"

            def run_eager(jets: JetBatch = jets) -> None:
                with torch.inference_mode():
                    eager(jets)

            t_eager = time_calls(run_eager, warmup=1, repeats=args.repeats)
            t_onnx = time_calls(lambda f=f, p=p, m=m: onnx_logits(session, f, p, m), warmup=1, repeats=args.repeats)
            rate = [args.batch / t * 1e3 for t in (t_eager.median_ms, t_eager.cpu_median_ms,
                                                   t_onnx.median_ms, t_onnx.cpu_median_ms)]
            print(f"| {n} | {grid} | {diff:.1e} | {rate[0]:,.0f} / {rate[1]:,.0f} | {rate[2]:,.0f} / {rate[3]:,.0f} "
                  f"| {rate[3] / rate[1]:.2f} |", flush=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
