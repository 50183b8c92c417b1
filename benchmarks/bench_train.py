"""Training (and large-batch inference) throughput: `tagformer train` against a bare PyTorch loop.

For each model x N x batch x thread count, measured side by side (modes alternate, ``--repeats`` rounds):

- ``bare``: a plain loop over the same batches, already collated as JetBatch objects on the device: the
  run's loss step (``TaggerModule._step``: forward, cross entropy, accuracy), backward, gradient clipping,
  AdamW with the run's parameter groups and LR schedule: the maths of ``tagformer train`` with no harness;
- ``train``: the ``train()`` API on a generated-schema file (same batches: ``limit_train_batches``), the
  training-only time of each epoch from a callback (epoch start to the start of validation), steady state
  = median over the epochs after the first;
- ``compiled``: the bare loop with the loss step through ``torch.compile`` (inductor; compile warm-up
  reported separately); ``train_compiled``: ``tagformer train`` with ``trainer.compile=true``.

Rates are jets/s by wall time and by process CPU time (on a shared machine the CPU-time rate is the robust
one; ratios and FLOP/s fractions use it on the CPU). FLOP/s: 3 x forward FLOPs per jet
(``model_flops_per_jet``) for training, as a fraction of a dense matmul measured in the same run at the same
thread count. ``--inference`` adds large-batch inference: torch eager, compiled, onnxruntime (CPU).

On CUDA (``--device cuda``) training runs in bf16 autocast (``trainer.precision`` auto) and inference in
bf16 with CUDA graphs (``torch.compile(mode="reduce-overhead")``), at batches such as 4096-65536.

    python benchmarks/bench_train.py --models deepsets_tiny,phat_small --particles 64 --batches 256 --threads 1
    python benchmarks/bench_train.py --device cuda --batches 4096,16384 --inference --inference-batch 65536
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

MODELS = "deepsets_tiny,salt,phat_small,transformer_tiny,part_tiny"
STORED = 150


def write_jets(path: Path, n: int, seed: int = 0) -> Path:
    """A generated-schema HDF5 file (``tagformer generate``'s layout) of ``n`` synthetic jets whose classes
    differ in multiplicity and width."""
    from tagformer import kinematics as kin
    from tagformer.data.generate.writer import JET_FEATURE_NAMES, write_arrays

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    mult = np.clip(rng.poisson(20 + 8 * labels), 5, STORED)
    mask = np.arange(STORED)[None, :] < mult[:, None]
    pt = -np.sort(-(rng.random((n, STORED), np.float32) ** 3 * 300 + 0.5), axis=1)
    width = (0.05 * (labels + 1))[:, None]
    eta = rng.uniform(-1, 1, (n, 1)) + rng.normal(0, 1, (n, STORED)) * width
    phi = rng.uniform(-np.pi, np.pi, (n, 1)) + rng.normal(0, 1, (n, STORED)) * width
    parts = np.zeros((n, STORED, 16), np.float32)
    parts[..., :4] = kin.from_pt_eta_phi(pt, eta, phi)
    parts[..., 5], parts[..., 7], parts[..., 10] = pt, eta, phi
    parts[~mask] = 0.0
    jets = rng.normal(size=(n, len(JET_FEATURE_NAMES))).astype(np.float32)
    jets[:, -5:] = np.eye(5, dtype=np.float32)[labels]
    write_arrays(path, parts, jets, {})
    return path


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def overrides(model: str, n: int, batch: int, threads: int, device: str, batches: int, epochs: int) -> list[str]:
    return [f"data.num_particles={n}", f"data.batch_size={batch}", f"trainer.threads={threads}",
            f"trainer.accelerator={device}", f"trainer.max_epochs={epochs}", "trainer.progress=false",
            "trainer.patience=1000", f"trainer.limit_train_batches={batches}", "trainer.limit_val_batches=1",
            "data.val_fraction=0.05", "data.test_fraction=0.05"]


def build(cfg: Any, device: str) -> tuple[Any, list[Any]]:
    """The run's module and its epoch-0 training batches on ``device``, as ``train()`` builds them."""
    import lightning as L

    from tagformer.data.datamodule import JetDataModule
    from tagformer.tasks import ClassificationTask
    from tagformer.train.module import TaggerModule
    from tagformer.train.run import build_tagger

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = JetDataModule(cfg.data)
    dm.setup("fit")
    module = TaggerModule(build_tagger(cfg, dm.info, dm.normaliser_state()), [ClassificationTask(dm.info.num_classes)],
                          cfg.optim, cfg.schedule).to(device)
    limit = cfg.trainer.limit_train_batches
    batches = []
    for i, b in enumerate(dm.train_dataloader()):
        if i == limit:
            break
        batches.append(b.to(device))
    return module, batches


def bare_epoch(cfg: Any, device: str, compiled: bool) -> dict[str, float]:
    """One timed epoch of the bare loop (after a warm-up pass over a few batches)."""
    from tagformer.train.compile import compile_fn
    from tagformer.train.module import lr_factor

    module, batches = build(cfg, device)
    opt = module.configure_optimizers()["optimizer"]
    total = len(batches) * 4
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, cfg.schedule))
    step_fn = compile_fn(module._step) if compiled else module._step
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda"
                else contextlib.nullcontext())
    clip = cfg.trainer.grad_clip

    def step(batch: Any) -> None:
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss, _ = step_fn(batch)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
        opt.step()
        sched.step()

    t0 = time.perf_counter()
    shapes = set()
    for b in batches:  # warm-up: every distinct shape once (compilation)
        if b.features.shape not in shapes:
            shapes.add(b.features.shape)
            step(b)
    _sync(device)
    warm = time.perf_counter() - t0
    step(batches[0])
    _sync(device)
    w0, c0 = _clocks()
    for b in batches:
        step(b)
    _sync(device)
    w1, c1 = _clocks()
    jets = sum(len(b) for b in batches)
    return {"jets": jets, "wall": w1 - w0, "cpu": c1 - c0, "warmup": warm}


class TrainClock:
    """Lightning callback: training-only time of each epoch (epoch start -> validation start)."""

    def __new__(cls, device: str) -> Any:
        import lightning as L

        class _Clock(L.Callback):
            def __init__(self) -> None:
                self.epochs: list[dict[str, float]] = []
                self._start: tuple[float, float] = (0.0, 0.0)
                self._jets = 0
                self._open = False

            def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
                _sync(device)
                self._start, self._jets, self._open = _clocks(), 0, True

            def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int) -> None:
                self._jets += len(batch)

            def _close(self) -> None:
                if self._open:
                    _sync(device)
                    w, c = _clocks()
                    self.epochs.append({"jets": self._jets, "wall": w - self._start[0], "cpu": c - self._start[1]})
                    self._open = False

            def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
                self._close()

            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                self._close()

        return _Clock()


def train_epochs(cfg: Any, device: str, root: Path) -> dict[str, float]:
    """``tagformer train`` (the ``train()`` API): median training-only epoch after the first."""
    from tagformer.train.run import train

    clock = TrainClock(device)
    run = Path(tempfile.mkdtemp(dir=root))
    summary = train(cfg, run, extra_callbacks=[clock])
    steady = clock.epochs[1:] or clock.epochs
    wall = statistics.median(e["wall"] for e in steady)
    cpu = statistics.median(e["cpu"] for e in steady)
    return {"jets": steady[0]["jets"], "wall": wall, "cpu": cpu, "warmup": summary.get("compile_warmup_s", 0.0)}


def matmul_rate(device: str) -> float:
    from tagformer.bench.timing import matmul_flops_per_s

    if device == "cuda":
        return matmul_flops_per_s(device="cuda", dtype=torch.bfloat16, size=8192)
    return matmul_flops_per_s(device="cpu", size=1024, clock="cpu")


def rate(m: dict[str, float], device: str) -> float:
    """Jets/s used for ratios: by CPU time on the CPU (robust under load), by wall time on a GPU."""
    return m["jets"] / (m["cpu"] if device == "cpu" else m["wall"])


def run_training(args: argparse.Namespace, data: Path, root: Path) -> list[dict[str, Any]]:
    from tagformer.bench.flops import model_flops_per_jet
    from tagformer.bench.machine import num_threads
    from tagformer.config import build_config
    from tagformer.models import create_model

    rows = []
    modes = args.modes.split(",")
    for threads in [int(t) for t in args.threads.split(",")]:
        with num_threads(threads):
            mm = matmul_rate(args.device)
        clock = "CPU time" if args.device == "cpu" else "wall"
        print(f"\n[threads {threads}] dense matmul {mm / 1e9:.1f} GFLOP/s ({clock}); load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
        for model in args.models.split(","):
            for n in [int(x) for x in args.particles.split(",")]:
                flops = model_flops_per_jet(create_model(model, num_classes=5, in_features=3, num_particles=n),
                                            in_features=3, num_particles=n)
                for batch in [int(x) for x in args.batches.split(",")]:
                    nb = max(args.min_batches, math.ceil(args.jets / batch))
                    cfg_args = overrides(model, n, batch, threads, args.device, nb, args.epochs)
                    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
                    for _ in range(args.repeats):
                        for mode in modes:
                            extra = ["trainer.compile=" + ("true" if mode == "train_compiled" else "false")]
                            cfg = build_config(model=model, data=str(data), overrides=[*cfg_args, *extra])
                            try:
                                with num_threads(threads):
                                    if mode in ("bare", "compiled"):
                                        m = bare_epoch(cfg, args.device, compiled=mode == "compiled")
                                    else:
                                        m = train_epochs(cfg, args.device, root)
                            except Exception as exc:  # e.g. a model torch.compile cannot handle: a result too
                                lines = [x for x in str(exc).splitlines() if "Error" in x] or [repr(exc)]
                                print(f"  {model} N={n} B={batch} T={threads} {mode}: failed: {lines[-1][:200]}",
                                      flush=True)
                                m = {"jets": float("nan"), "wall": 1.0, "cpu": 1.0, "warmup": float("nan")}
                            results[mode].append(m)
                            print(f"  {model:>16s} N={n:<3d} B={batch:<5d} T={threads} {mode:>14s}: "
                                  f"{m['jets'] / m['wall']:>9,.0f} jets/s wall, {m['jets'] / m['cpu']:>9,.0f} per CPU-s"
                                  + (f" (warm-up {m['warmup']:.1f} s)" if "compiled" in mode else ""), flush=True)
                    row = {"model": model, "N": n, "batch": batch, "threads": threads, "mflops": flops / 1e6,
                           "matmul": mm, "load": os.getloadavg()[0]}
                    for mode, ms in results.items():
                        row[mode] = statistics.median(rate(m, args.device) for m in ms)
                        row[mode + "_wall"] = statistics.median(m["jets"] / m["wall"] for m in ms)
                        row[mode + "_warmup"] = max(m["warmup"] for m in ms)
                    rows.append(row)
    return rows


def print_training(rows: list[dict[str, Any]], modes: list[str], device: str) -> None:
    clock = "CPU time" if device == "cpu" else "wall time"
    print(f"\n### Training jets/s ({clock}; wall in brackets), ratios and FLOP/s as % of dense matmul\n")
    head = ["model", "N", "batch", "threads", *modes]
    if "bare" in modes and "train" in modes:
        head.append("train/bare")
    for m in ("compiled", "train_compiled"):
        if m in modes and "bare" in modes:
            head.append(f"{m}/bare")
    head += ["best % matmul", "load"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        cells = [r["model"], r["N"], r["batch"], r["threads"]]
        cells += [f"{r[m]:,.0f} ({r[m + '_wall']:,.0f})" for m in modes]
        if "bare" in modes and "train" in modes:
            cells.append(f"{r['train'] / r['bare']:.2f}")
        for m in ("compiled", "train_compiled"):
            if m in modes and "bare" in modes:
                cells.append(f"{r[m] / r['bare']:.2f}")
        best = max(r[m] for m in modes)
        cells += [f"{100 * 3 * r['mflops'] * 1e6 * best / r['matmul']:.1f}", f"{r['load']:.1f}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    warm = [(r["model"], r["N"], r["batch"], r[m + "_warmup"]) for r in rows for m in modes if "compiled" in m]
    if warm:
        print("\ncompile warm-up (s, first step of each batch shape): "
              + ", ".join(f"{m} N={n} B={b}: {w:.0f}" for m, n, b, w in warm))


def run_inference(args: argparse.Namespace) -> None:
    """Large-batch inference: torch eager, torch.compile, onnxruntime (CPU, fp32)."""
    from tagformer.bench.flops import model_flops_per_jet
    from tagformer.bench.inputs import synthetic_jets
    from tagformer.bench.machine import num_threads
    from tagformer.bench.timing import time_calls
    from tagformer.models import create_model
    from tagformer.models.inference import prepare_for_inference

    cuda = args.device == "cuda"
    batch = args.inference_batch
    threads = int(args.threads.split(",")[0])
    with num_threads(threads):
        mm = matmul_rate(args.device)
    print(f"\n### Inference, batch {batch}, {threads} thread(s), {'bf16' if cuda else 'fp32'}; dense matmul "
          f"{mm / 1e9:.1f} GFLOP/s; load average {os.getloadavg()[0]:.2f}\n")
    print("| model | N | MFLOPs/jet | eager jets/s | compiled jets/s | onnxruntime jets/s | best % matmul |")
    print("|---|---|---|---|---|---|---|")
    for model_name in args.models.split(","):
        for n in [int(x) for x in args.particles.split(",")]:
            torch.manual_seed(0)
            model = create_model(model_name, num_classes=5, in_features=3, num_particles=n)
            flops = model_flops_per_jet(model, in_features=3, num_particles=n)
            model = prepare_for_inference(model.to(args.device)).eval()
            jets = synthetic_jets(batch, n, 3, seed=1, device=args.device)
            rates: dict[str, float] = {}
            with num_threads(threads), torch.inference_mode():
                ctx = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()

                def eager(m: Any = model, ctx: Any = ctx, jets: Any = jets) -> Any:
                    with ctx:
                        return m(jets)

                t = time_calls(eager, device=args.device, warmup=2, repeats=10, budget_s=args.budget)
                rates["eager"] = batch / ((t.median_ms if cuda else t.cpu_median_ms) / 1e3)
                if not args.no_compile:
                    compiled = torch.compile(model, mode="reduce-overhead" if cuda else None, dynamic=False)
                    t0 = time.perf_counter()
                    try:
                        eager(compiled)
                        warm = time.perf_counter() - t0
                        t = time_calls(lambda c=compiled: eager(c), device=args.device, warmup=2, repeats=10,
                                       budget_s=args.budget)
                        rates["compiled"] = batch / ((t.median_ms if cuda else t.cpu_median_ms) / 1e3)
                        print(f"  {model_name} N={n}: compile warm-up {warm:.1f} s", flush=True)
                    except Exception as exc:  # report and go on: one model failing to compile is a result
                        print(f"  {model_name} N={n}: torch.compile failed: {str(exc).splitlines()[0][:160]}")
            if not cuda and not args.no_onnx:
                rates["onnxruntime"] = onnx_rate(model_name, n, batch, threads, args.budget)
            best = max(rates.values())
            cells = [model_name, n, f"{flops / 1e6:.3g}",
                     *(f"{rates[k]:,.0f}" if k in rates else "n/a" for k in ("eager", "compiled", "onnxruntime")),
                     f"{100 * flops * best / mm:.1f}"]
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def onnx_rate(preset: str, n: int, batch: int, threads: int, budget: float) -> float:
    from tagformer.bench.inputs import synthetic_jets
    from tagformer.bench.timing import time_calls
    from tagformer.export.onnx import TensorTagger, export_onnx, onnx_logits, onnx_session
    from tagformer.models import create_model

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = create_model(preset, num_classes=5, in_features=3, num_particles=n).eval()
            path = export_onnx(TensorTagger(model).eval(), synthetic_jets(4, n), Path(tmp) / "m.onnx", name=preset)
        except Exception as exc:  # not exportable: reported as n/a
            print(f"  {preset}: no ONNX export ({str(exc).splitlines()[0][:120]})")
            return float("nan")
        session = onnx_session(path, threads)
        jets = synthetic_jets(batch, n, 3, seed=1)
        f, p, m = jets.features.numpy(), jets.p4.numpy(), jets.mask.numpy()
        t = time_calls(lambda: onnx_logits(session, f, p, m), warmup=2, repeats=10, budget_s=budget)
    return batch / (t.cpu_median_ms / 1e3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--particles", default="64,150")
    ap.add_argument("--batches", default="256,1024")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--modes", default="bare,train,compiled",
                    help="comma-separated: bare, train, compiled, train_compiled (alternated in this order)")
    ap.add_argument("--jets", type=int, default=6000, help="training jets per timed epoch (rounded up to batches)")
    ap.add_argument("--min-batches", type=int, default=4, help="at least this many batches per timed epoch")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of each `tagformer train` run (the first is warm-up)")
    ap.add_argument("--repeats", type=int, default=1, help="alternating rounds over the modes; medians reported")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto")
    ap.add_argument("--no-train", action="store_true", help="skip the training part")
    ap.add_argument("--inference", action="store_true", help="also measure large-batch inference")
    ap.add_argument("--inference-batch", type=int, default=None, help="default 4096 on CPU, 65536 on CUDA")
    ap.add_argument("--no-compile", action="store_true", help="inference: skip torch.compile")
    ap.add_argument("--no-onnx", action="store_true", help="inference: skip onnxruntime")
    ap.add_argument("--budget", type=float, default=2.0, help="inference: seconds of timed calls per measurement")
    args = ap.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda but no CUDA GPU is available", file=sys.stderr)
        return 2
    if args.inference_batch is None:
        args.inference_batch = 65536 if args.device == "cuda" else 4096
    import lightning.pytorch  # noqa: F401  (sets its loggers' levels on import; quieten them after)

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)

    from tagformer.bench.machine import machine_description

    print(f"machine: {machine_description()}; device {args.device}; uptime: {os.popen('uptime').read().strip()}",
          flush=True)
    if not args.no_train:
        with tempfile.TemporaryDirectory() as tmp:
            biggest = max(int(b) for b in args.batches.split(","))
            need = max(args.jets, biggest * args.min_batches)
            data = write_jets(Path(tmp) / "jets.h5", int(need / 0.9) + 100)
            rows = run_training(args, data, Path(tmp))
        print_training(rows, args.modes.split(","), args.device)
    if args.inference:
        run_inference(args)
    print(f"\nuptime at the end: {os.popen('uptime').read().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
