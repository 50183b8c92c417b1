"""The measurements behind the profile rows of one built model at one particle count."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from tagformer.bench.config import ProfileConfig
from tagformer.bench.flops import count_params, model_flops_per_jet
from tagformer.bench.inputs import synthetic_jets
from tagformer.bench.memory import peak_cuda_mb, peak_rss_delta_mb, peak_rss_subprocess, rss_available
from tagformer.bench.timing import matmul_flops_per_s, time_calls
from tagformer.models.inference import prepare_for_inference


def torch_dtype(name: str) -> torch.dtype:
    return {"fp32": torch.float32, "bf16": torch.bfloat16}[name]


def calibrate(config: ProfileConfig) -> float:
    """Dense matmul FLOP/s on the profiled device, dtype and (current) thread count."""
    return matmul_flops_per_s(device=config.device, dtype=torch_dtype(config.dtype), size=config.calibrate_size)


def forward_fn(model: torch.nn.Module, batch: Any, config: ProfileConfig) -> Callable[[], Any]:
    """A zero-argument inference call of ``model(batch)`` with the profile's dtype."""
    device_type = torch.device(config.device).type
    bf16 = config.dtype == "bf16"

    def call() -> Any:
        with torch.inference_mode(), torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            return model(batch)

    return call


def _memory(fn: Callable[[], Any], config: ProfileConfig, spec: dict[str, Any] | None) -> tuple[float, str]:
    """Peak memory of one call and how it was measured (a fresh subprocess needs a rebuildable ``spec``)."""
    if config.memory == "off":
        return float("nan"), "none"
    if torch.device(config.device).type == "cuda":
        return peak_cuda_mb(fn, config.device), "cuda_max_allocated"
    if not rss_available():
        return float("nan"), "none"
    if spec is not None and config.memory in ("auto", "subprocess") and not config.compile:
        return peak_rss_subprocess(spec), "rss_delta_subprocess"
    return peak_rss_delta_mb(fn), "rss_delta_inprocess"


def measure_rows(model: torch.nn.Module, *, model_name: str, preset: str, particles: int, config: ProfileConfig,
                 threads: int, matmul_flops: float, rebuild: Mapping[str, Any] | None = None
                 ) -> Iterator[dict[str, Any]]:
    """Profile rows of a built ``model`` at ``particles`` all-real particles, one per batch size.

    ``model`` is left unchanged: an eval-mode copy on ``config.device`` with the inference-time transforms of
    :func:`~tagformer.models.inference.prepare_for_inference` is timed. ``rebuild`` (``{"model": preset name,
    "overrides": {...}}``) lets the CPU memory measurement rebuild the model in a fresh interpreter; without
    it memory is measured in this process. Parameters and FLOPs are :func:`~tagformer.bench.flops.count_params`
    and :func:`~tagformer.bench.flops.model_flops_per_jet`, the figures every tagformer output reports.
    """
    model = model.eval()
    params = count_params(model)
    flops = model_flops_per_jet(model, in_features=config.in_features, num_particles=particles)
    model = prepare_for_inference(model.to(config.device))  # the fastest path with the same function
    runner: Any = torch.compile(model) if config.compile else model
    for batch_size in config.batches:
        batch = synthetic_jets(int(batch_size), particles, config.in_features, seed=1, device=config.device)
        fn = forward_fn(runner, batch, config)
        timing = time_calls(fn, device=config.device, warmup=config.warmup, repeats=config.repeats,
                            budget_s=config.budget_s)
        throughput = batch_size / (timing.median_ms / 1e3)
        spec = None if rebuild is None else {
            **rebuild, "num_classes": config.num_classes, "in_features": config.in_features,
            "particles": particles, "batch": int(batch_size), "threads": threads, "dtype": config.dtype}
        peak, method = _memory(fn, config, spec)
        fraction = flops * throughput / matmul_flops if matmul_flops > 0 else math.nan
        yield {
            "model": model_name,
            "preset": preset,
            "particles": particles,
            "batch": int(batch_size),
            "device": config.device,
            "dtype": config.dtype,
            "compile": bool(config.compile),
            "threads": threads,
            "params": params,
            "macs_per_jet": flops / 2.0,
            "flops_per_jet": float(flops),
            "latency_ms_p50": timing.median_ms,
            "latency_ms_p99": timing.p99_ms,
            "cpu_ms_p50": timing.cpu_median_ms,
            "throughput_jets_s": throughput,
            "peak_mem_mb": peak,
            "mem_method": method,
            "flops_fraction": fraction,
            "matmul_gflops": matmul_flops / 1e9,
            "repeats": len(timing.times_ms),
        }
