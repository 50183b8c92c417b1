"""Loading throughput (jets/s delivered as JetBatch) for the in-memory and streaming paths, peak memory of
streaming over a dataset larger than its shuffle buffer, and the train-step rate of a small model on the
same batches (the ratio says whether loading can be the bottleneck).

Writes a synthetic dataset in the published hls4ml 150-particle layout (10k jets per file) to a temporary
directory, then runs each measurement in a fresh subprocess so peak RSS is that path's own.

    .venv/bin/python benchmarks/bench_loading.py [--files 8] [--num-particles 64] [--shuffle-buffer 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

JETS_PER_FILE = 10_000
STORED = 150


def write_dataset(directory: str, files: int, seed: int = 0) -> None:
    """hls4ml-layout files: (10k, 150, 16) constituents with random multiplicities, 59-column jets."""
    import h5py

    from tagformer import kinematics as kin

    rng = np.random.default_rng(seed)
    for i in range(files):
        n = JETS_PER_FILE
        mult = rng.integers(10, STORED + 1, n)
        mask = np.arange(STORED)[None, :] < mult[:, None]
        pt = -np.sort(-(rng.random((n, STORED), np.float32) ** 3 * 300 + 0.5), axis=1)
        eta = rng.uniform(-1, 1, (n, 1)) + rng.normal(0, 0.2, (n, STORED))
        phi = rng.uniform(-np.pi, np.pi, (n, 1)) + rng.normal(0, 0.2, (n, STORED))
        parts = rng.normal(size=(n, STORED, 16)).astype(np.float32)
        parts[..., :4] = kin.from_pt_eta_phi(pt, eta, phi)
        parts[~mask] = 0.0
        jets = rng.normal(size=(n, 59)).astype(np.float32)
        jets[:, 53:58] = np.eye(5, dtype=np.float32)[rng.integers(0, 5, n)]
        with h5py.File(os.path.join(directory, f"jets_{i:03d}.h5"), "w") as f:
            f["jetConstituentList"] = parts
            f["jets"] = jets


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(directory: str, streaming: bool, workers: int, num_particles: int, buffer: int,
            model: str, epochs: int) -> dict:
    """One path in this process: setup time, jets/s over full epochs, train-step jets/s, peak RSS."""
    import torch

    from tagformer.data import DataConfig, JetDataModule

    torch.set_num_threads(1)
    base = _rss_mb()
    cfg = DataConfig(path=directory, num_particles=num_particles, batch_size=256, streaming=streaming,
                     num_workers=workers, shuffle_buffer=buffer, val_fraction=0.0, test_fraction=0.0)
    t0 = time.perf_counter()
    dm = JetDataModule(cfg)
    dm.setup("fit")
    setup_s = time.perf_counter() - t0
    loader = dm.train_dataloader()
    jets, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            jets += len(batch)
    load_rate = jets / (time.perf_counter() - t0)
    train_rate = train_step_rate(loader, dm.info, model)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"path": "streaming" if streaming else "in-memory", "workers": workers, "jets": jets,
            "setup_s": setup_s, "jets_per_s": load_rate, "train_jets_per_s": train_rate,
            "rss_before_mb": base, "peak_rss_mb": peak_self, "peak_worker_rss_mb": round(peak_children)}


def train_step_rate(loader, info, model_name: str, steps: int = 20) -> float:
    """Jets/s of forward + backward + Adam step of a small model on batches from ``loader`` (1 thread)."""
    import torch

    try:
        from tagformer.models.registry import create_model

        model = create_model(model_name, num_classes=info.num_classes, in_features=info.in_features,
                             num_particles=info.num_particles)
    except Exception:  # zoo not available: a per-particle MLP with masked mean pooling
        model = None
    if model is None:
        mlp = torch.nn.Sequential(torch.nn.Linear(info.in_features, 64), torch.nn.ReLU(),
                                  torch.nn.Linear(64, 64), torch.nn.ReLU())
        head = torch.nn.Linear(64, info.num_classes)

        class _MLP(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.mlp, self.head = mlp, head

            def forward(self, b):
                h = self.mlp(b.features) * b.mask[..., None]
                return self.head(h.sum(1) / b.mask.sum(1, keepdim=True).clamp(min=1))

        model = _MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = []
    for b in loader:
        batches.append(b)
        if len(batches) == 4:
            break
    jets, elapsed = 0, 0.0
    for i in range(steps + 3):
        b = batches[i % len(batches)]
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(b), b.labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 3:  # warm-up
            elapsed += time.perf_counter() - t0
            jets += len(b)
    return jets / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--num-particles", type=int, default=64)
    parser.add_argument("--shuffle-buffer", type=int, default=20_000)
    parser.add_argument("--model", default="phat_small")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--paths", default="memory,stream0,stream2",
                        help="comma list of memory, stream0 (streaming, no workers), stream2 (2 workers)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        d, streaming, workers = json.loads(args.child)
        print(json.dumps(measure(d, streaming, workers, args.num_particles, args.shuffle_buffer, args.model,
                                 args.epochs)))
        return
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_dataset(d, args.files)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 2**20
        print(f"dataset: {args.files * JETS_PER_FILE} jets x {STORED} stored particles, {size:.0f} MiB on disk "
              f"(written in {time.perf_counter() - t0:.0f} s); N = {args.num_particles}, ptetaphi, batch 256, "
              f"shuffle buffer {args.shuffle_buffer}, model {args.model}, torch threads 1")
        rows = []
        known = {"memory": (False, 0), "stream0": (True, 0), "stream2": (True, 2)}
        for streaming, workers in (known[p] for p in args.paths.split(",")):
            cmd = [sys.executable, __file__, "--num-particles", str(args.num_particles), "--shuffle-buffer",
                   str(args.shuffle_buffer), "--model", args.model, "--epochs", str(args.epochs),
                   "--child", json.dumps([d, streaming, workers])]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"measurement {streaming=} {workers=} failed:\n{proc.stderr}")
            out = proc.stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| path | workers | setup s | jets/s delivered | train jets/s | ratio | peak RSS MiB (main / workers) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['path']} | {r['workers']} | {r['setup_s']:.1f} | {r['jets_per_s']:,.0f} | "
              f"{r['train_jets_per_s']:,.0f} | {r['jets_per_s'] / r['train_jets_per_s']:.1f}x | "
              f"{r['peak_rss_mb']:.0f} / {r['peak_worker_rss_mb'] if r['workers'] else 'n/a'} "
              f"(before loading {r['rss_before_mb']:.0f}) |")


if __name__ == "__main__":
    main()
