"""Inference cost of the trigger-size models: torch vs onnxruntime, FLOP/s fraction, where time goes.

For every trigger-size preset (<= --max-params trainable parameters and <= --max-mflops MFLOPs per jet
with 3 inputs, 5 classes, N = 150; or --models) at each N (default 64 and 150):
  - batch-1 latency (median, p99) and large-batch throughput in torch (tagformer.bench.profile), with
    achieved FLOP/s as a fraction of a dense matmul measured in the same run at the same thread count;
  - the same model exported to ONNX (dynamic axes) in onnxruntime, same inputs, same threads (CPU only):
    batch-1 latency and large-batch throughput, and the onnxruntime/torch ratios;
  - with --ops: torch.profiler's top operators at the large batch for phat, salt and transformer.
FLOPs per jet = 2 x MACs from torch.utils.flop_counter, full jets (every slot real).

    python benchmarks/bench_inference.py --threads 2                  # CPU, fp32
    python benchmarks/bench_inference.py --device cuda --compile --dtype bf16 --large-batch 65536
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import torch

from tagformer.bench.config import ProfileConfig
from tagformer.bench.inputs import synthetic_jets
from tagformer.bench.machine import machine_description, num_threads
from tagformer.bench.ops import op_breakdown
from tagformer.bench.profile import profile_models, to_markdown, write_csv
from tagformer.bench.timing import matmul_flops_per_s, time_calls
from tagformer.models import create_model, get_entry, list_entries
from tagformer.models.inference import prepare_for_inference


def trigger_presets(max_params: int, max_mflops: float) -> list[str]:
    """Presets with at most ``max_params`` trainable parameters and ``max_mflops`` MFLOPs per jet
    (3 inputs, 5 classes, N = 150)."""
    from tagformer.bench.flops import count_params, model_flops_per_jet

    found = []
    for entry in list_entries():
        for preset in entry.presets:
            try:
                model = create_model(preset, num_classes=5, in_features=3, num_particles=150)
            except Exception:  # an optional dependency missing: not profiled
                continue
            if count_params(model) > max_params:
                continue
            if model_flops_per_jet(model, in_features=3, num_particles=150) <= max_mflops * 1e6:
                found.append(preset)
    return found


def onnx_rows(presets: list[str], particles: list[int], large: int, threads: int, budget: float) -> list[dict]:
    """onnxruntime latency (batch 1) and throughput (batch ``large``) of each exportable preset."""
    from tagformer.errors import ModelError
    from tagformer.export.onnx import TensorTagger, export_onnx, onnx_logits, onnx_session

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            if not get_entry(preset).capabilities.onnx_exportable:
                continue
            for n in particles:
                torch.manual_seed(0)
                model = create_model(preset, num_classes=5, in_features=3, num_particles=n).eval()
                wrapped = TensorTagger(model).eval()
                try:
                    path = export_onnx(wrapped, synthetic_jets(4, n), Path(tmp) / f"{preset}_{n}.onnx", name=preset)
                except ModelError as exc:
                    print(f"  {preset}: {exc}", flush=True)
                    break
                session = onnx_session(path, threads)
                row = {"preset": preset, "particles": n}
                for batch in (1, large):
                    jets = synthetic_jets(batch, n, 3, seed=1)
                    f, p, m = jets.features.numpy(), jets.p4.numpy(), jets.mask.numpy()
                    t = time_calls(lambda s=session, f=f, p=p, m=m: onnx_logits(s, f, p, m), warmup=5,
                                   repeats=50, budget_s=budget)
                    row[f"ms_{batch}"] = t.median_ms
                    row[f"cpu_{batch}"] = t.cpu_median_ms
                rows.append(row)
                print(f"  onnxruntime {preset:>18s} N={n:<4d} batch 1 {row['ms_1']:.3f} ms (CPU {row['cpu_1']:.3f}), "
                      f"batch {large} {large / row[f'ms_{large}'] * 1e3:,.0f} jets/s (CPU "
                      f"{large / row[f'cpu_{large}'] * 1e3:,.0f})", flush=True)
    return rows


def print_ops(presets: list[str], n: int, large: int, config: ProfileConfig) -> None:
    from tagformer.bench.measure import forward_fn

    for preset in presets:
        model = create_model(preset, num_classes=5, in_features=3, num_particles=n)
        model = prepare_for_inference(model.to(config.device))
        batch = synthetic_jets(large, n, 3, seed=1, device=config.device)
        ops = op_breakdown(forward_fn(model, batch, config), top=8, device=config.device)
        print(f"\n#### torch.profiler, {preset}, N = {n}, batch {large}: top operators by self time\n")
        print("| op | calls/forward | self ms/forward | % |\n|---|---|---|---|")
        for o in ops:
            print(f"| `{o['op']}` | {o['calls']:.0f} | {o['self_ms']:.2f} | {o['percent']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="comma-separated presets (default: all trigger-size ones)")
    ap.add_argument("--max-params", type=int, default=10_000, help="trigger size: at most this many params")
    ap.add_argument("--max-mflops", type=float, default=10.0, help="... and MFLOPs per jet at N = 150")
    ap.add_argument("--particles", default="64,150")
    ap.add_argument("--large-batch", type=int, default=1024)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads for torch and onnxruntime (default 1: on a shared, loaded 2-core "
                    "machine a second OpenMP thread stalls on a busy core)")
    ap.add_argument("--budget", type=float, default=1.5, help="seconds of timed calls per measurement")
    ap.add_argument("--no-onnx", action="store_true")
    ap.add_argument("--ops", default="phat_small,salt,transformer_tiny",
                    help="presets to break down with torch.profiler ('' = none)")
    ap.add_argument("--out", default=None, help="write the torch rows as a profile CSV here")
    args = ap.parse_args(argv)

    particles = [int(x) for x in args.particles.split(",")]
    presets = args.models.split(",") if args.models else trigger_presets(args.max_params, args.max_mflops)
    config = ProfileConfig(particles=tuple(particles), batches=(1, args.large_batch), device=args.device,
                           dtype=args.dtype, compile=args.compile, threads=args.threads, budget_s=args.budget,
                           memory="off").check()
    print(f"machine: {machine_description()}; threads {args.threads}, dtype {args.dtype}, "
          f"compile {'on' if args.compile else 'off'}, device {args.device}; load average before "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    print(f"presets: {', '.join(presets)}", flush=True)
    rows = profile_models(",".join(presets), config, progress=lambda r: print(
        f"  torch {r['preset']:>18s} N={r['particles']:<4d} batch {r['batch']:<5d} p50 {r['latency_ms_p50']:.3f} ms "
        f"{r['throughput_jets_s']:,.0f} jets/s {100 * r['flops_fraction']:.1f}% matmul", flush=True))
    if args.out:
        write_csv(rows, args.out)
    ort = []
    if not args.no_onnx and args.device == "cpu" and args.dtype == "fp32":
        with num_threads(args.threads):
            ort = onnx_rows(presets, particles, args.large_batch, args.threads, args.budget)
    ops = [p for p in args.ops.split(",") if p and p in presets]
    if ops:
        with num_threads(args.threads):
            print_ops(ops, max(particles), args.large_batch, config)

    print(f"\n{to_markdown(rows, f'torch, {args.device}, {args.threads} threads, {args.dtype}')}")
    torch_by = {(r["preset"], r["particles"], r["batch"]): r for r in rows}
    large = args.large_batch
    with num_threads(args.threads):
        mm_cpu = matmul_flops_per_s(device=args.device, size=config.calibrate_size, clock="cpu")
    print("### per model: wall time, and CPU time (= latency on an idle core with 1 thread)\n")
    print(f"dense fp32 matmul: {rows[0]['matmul_gflops']:.1f} GFLOP/s by wall time, {mm_cpu / 1e9:.1f} GFLOP/s by "
          f"CPU time. Throughput at batch {large}; ORT = onnxruntime; ratios = ORT speed / torch speed.\n")
    print("| preset | N | params | MFLOPs/jet | torch b=1 ms wall / CPU | torch jets/s wall / CPU "
          f"| % matmul wall / CPU | ORT b=1 CPU ms | ORT jets/s CPU | ORT/torch b=1 | ORT/torch b={large} |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ort_by = {(r["preset"], r["particles"]): r for r in ort}
    for preset in presets:
        for n in particles:
            one, big = torch_by.get((preset, n, 1)), torch_by.get((preset, n, large))
            if one is None or big is None:
                continue
            o = ort_by.get((preset, n))
            cpu_rate = large / big["cpu_ms_p50"] * 1e3
            cells = [preset, n, f"{one['params']:,}", f"{one['flops_per_jet'] / 1e6:.3g}",
                     f"{one['latency_ms_p50']:.3f} / {one['cpu_ms_p50']:.3f}",
                     f"{big['throughput_jets_s']:,.0f} / {cpu_rate:,.0f}",
                     f"{100 * big['flops_fraction']:.1f} / {100 * big['flops_per_jet'] * cpu_rate / mm_cpu:.1f}"]
            if o:
                cells += [f"{o['cpu_1']:.3f}", f"{large / o[f'cpu_{large}'] * 1e3:,.0f}",
                          f"{one['cpu_ms_p50'] / o['cpu_1']:.2f}x", f"{big['cpu_ms_p50'] / o[f'cpu_{large}']:.2f}x"]
            else:
                cells += ["n/a"] * 4
            print("| " + " | ".join(str(c) for c in cells) + " |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f} (1 min)")
    best = max((r for r in rows if r["batch"] == large), key=lambda r: r["flops_fraction"], default=None)
    if best:
        print(f"\nhighest FLOP/s fraction at batch {large}: {best['preset']} N={best['particles']} "
              f"{100 * best['flops_fraction']:.1f}% of {best['matmul_gflops']:.1f} GFLOP/s dense matmul")
    return 0


if __name__ == "__main__":
    sys.exit(main())
