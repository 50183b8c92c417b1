"""PHAT-JeT geometric message passing: occupied-cell evaluation vs a dense eta-phi grid, side by side.

Both implementations run the same block (cells from p4, grid convolution, dense, LayerNorm, residual)
with the same weights on the same jets, batch 1024, N = 64 and 150. The dense peer does what the
reference TF code does: scatter every jet onto a grid sized by the batch's widest jet (cell 0.05, ~32 x 32
for R = 0.8 jets), 8 x 8 depthwise conv over every cell, gather back. Results are checked equal first.

Inputs: "hls4ml-like" jets (multiplicity ~ N(50, 15) clipped to [5, N], padding after the real
particles, angular distance to the axis r = 0.8 u^2 with u uniform, so particles crowd the core as in
real jets) and the worst case for the sparse path (every slot real, Gaussian core of width 0.2, the
inputs of the scaling benchmark). The whole phat_small model is timed too; the TF reference's
360-400 jets/s (small preset, batch 1024) was measured on these machines earlier, not here.

Usage: .venv/bin/python benchmarks/bench_phat_grid.py [--threads 1] [--batch 1024]
"""

from __future__ import annotations

import argparse
import math

import torch

from tagformer.bench.inputs import synthetic_jets
from tagformer.bench.machine import machine_description, num_threads
from tagformer.bench.timing import time_calls
from tagformer.data.batch import JetBatch
from tagformer.models import create_model
from tagformer.models.inference import prepare_for_inference
from tagformer.models.layers.cells import jet_cells
from tagformer.models.layers.grid import dense_grid_message
from tagformer.models.phat import GeometricMessagePassing

DIM = 16


def hls4ml_like(batch: int, n: int, seed: int = 0) -> JetBatch:
    g = torch.Generator().manual_seed(seed)
    mult = (torch.randn(batch, generator=g) * 15 + 50).round().clamp(5, n).long()
    mask = torch.arange(n)[None] < mult[:, None]
    r = 0.8 * torch.rand(batch, n, generator=g) ** 2
    a = torch.rand(batch, n, generator=g) * 2 * math.pi
    eta = r * torch.cos(a) + torch.rand(batch, 1, generator=g) * 3 - 1.5
    phi = r * torch.sin(a) + (torch.rand(batch, 1, generator=g) * 2 - 1) * math.pi
    pt = torch.sort(torch.rand(batch, n, generator=g) ** 3 * 300 + 1, dim=1, descending=True).values
    p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta), pt * torch.cosh(eta)], -1)
    feats = torch.stack([pt.log(), r * torch.cos(a), r * torch.sin(a)], -1)
    return JetBatch(features=feats, p4=p4, mask=mask)


def block_pair(seed: int = 0) -> tuple[GeometricMessagePassing, object]:
    torch.manual_seed(seed)
    block = GeometricMessagePassing(DIM, kernel_size=8, cell_size=0.05, norm="layer").eval()

    def dense(x: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cells = jet_cells(p4, mask, 0.05)
        y = dense_grid_message(x, cells, mask, block.grid.weight, block.grid.bias)
        return x + block.norm(block.dense(y))

    def sparse(x: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor, impl: str = "auto") -> torch.Tensor:
        block.grid.impl = impl  # "auto" may hand very dense jet cores to the dense grid; "sparse" never does
        return block(x, jet_cells(p4, mask, 0.05), mask)

    return sparse, dense


def stats(batch: JetBatch) -> str:
    cells = jet_cells(batch.p4, batch.mask, 0.05)
    h, w = int(cells[..., 0].max()) + 1, int(cells[..., 1].max()) + 1
    real = int(batch.mask.sum())
    return f"grid {h}x{w} (+7 padding), {real / len(batch):.1f} real particles/jet"


def measure(sparse, dense, model, x: torch.Tensor, batch: JetBatch, repeats: int) -> tuple[float, ...]:
    """Median ms per call of the dense block, the auto and forced-sparse blocks, the whole model; max diff."""
    p4, mask = batch.p4, batch.mask
    diff = float(((sparse(x, p4, mask) - dense(x, p4, mask)) * mask.unsqueeze(-1)).abs().max())

    def run(fn):
        return time_calls(fn, warmup=2, repeats=repeats).median_ms

    return (run(lambda: dense(x, p4, mask)), run(lambda: sparse(x, p4, mask)),
            run(lambda: sparse(x, p4, mask, "sparse")), run(lambda: model(batch)), diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine_description()}; threads={args.threads}; float32; eager; inference_mode; "
          f"batch {args.batch}; median of {args.repeats} calls after 2 warm-up", flush=True)
    rows = []
    with num_threads(args.threads), torch.inference_mode():
        sparse, dense = block_pair()
        model = prepare_for_inference(create_model("phat_small", num_classes=5, in_features=3))
        for label, make in (("hls4ml-like", hls4ml_like), ("all-real core", synthetic_jets)):
            for n in (64, 150):
                batch = make(args.batch, n)
                x = torch.randn(args.batch, n, DIM)
                t_d, t_s, t_f, t_m, diff = measure(sparse, dense, model, x, batch, args.repeats)
                rows.append((label, n, stats(batch), t_d, t_s, t_f, diff, args.batch / t_m * 1e3))
                print(f"  {label} N={n}: {stats(batch)}; dense {t_d:.1f} ms, auto {t_s:.1f} ms, sparse {t_f:.1f} ms, "
                      f"max |diff| {diff:.2g}; phat_small model {args.batch / t_m * 1e3:.0f} jets/s", flush=True)
    print()
    print("| inputs | N | dense grid block (ms/batch) | tagformer block, auto (ms/batch) | speed-up | "
          "forced sparse (ms/batch) | speed-up | phat_small model (jets/s) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, n, _, t_d, t_s, t_f, _, jps in rows:
        print(f"| {label} | {n} | {t_d:.1f} | {t_s:.1f} | {t_d / t_s:.2f}x | {t_f:.1f} | {t_d / t_f:.2f}x "
              f"| {jps:.0f} |")


if __name__ == "__main__":
    main()
