"""Peak memory of one forward pass.

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (tensor memory held by
  torch's caching allocator).
- CPU: ``tracemalloc`` does not see torch's allocations, so we measure the **peak resident set size
  (RSS) delta** of the process: after one warm-up call, the kernel's high-water mark is reset by writing
  ``5`` to ``/proc/self/clear_refs`` (Linux), the current RSS is read as the baseline, the call runs once,
  and ``VmHWM - baseline`` is the peak extra memory the call needed. :func:`peak_rss_subprocess` does this
  in a fresh interpreter so that memory retained by earlier work cannot hide the call's needs.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def rss_available() -> bool:
    """Whether the Linux /proc interface needed for the CPU measurement exists and is writable."""
    return _STATUS.exists() and _CLEAR.exists() and os.access(_CLEAR, os.W_OK)


def _status_mb(key: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{key} not in /proc/self/status")


def peak_rss_delta_mb(fn: Callable[[], Any], warmup: int = 1) -> float:
    """Peak RSS increase (MiB) while ``fn()`` runs once, in this process (see module docstring)."""
    if not rss_available():
        return float("nan")
    for _ in range(warmup):
        fn()
    gc.collect()
    _CLEAR.write_text("5")
    base = _status_mb("VmRSS")
    fn()
    return max(_status_mb("VmHWM") - base, 0.0)


def peak_cuda_mb(fn: Callable[[], Any], device: str | torch.device = "cuda", warmup: int = 1) -> float:
    """Peak CUDA tensor memory (MiB) allocated during one call of ``fn()``, above what was live before."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def peak_rss_subprocess(spec: dict[str, Any], timeout_s: float = 600.0) -> float:
    """Peak RSS delta (MiB) of one forward pass of a zoo model, measured in a fresh interpreter.

    ``spec`` keys: ``model`` (model or preset name), ``overrides`` (constructor arguments, optional),
    ``num_classes``, ``in_features``, ``particles``, ``batch``, ``threads``, ``dtype`` (``"fp32"``/``"bf16"``).
    Returns NaN if the measurement failed.
    """
    cmd = [sys.executable, "-m", "tagformer.bench.memory", json.dumps(spec)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=True)
        return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])
    except (subprocess.SubprocessError, ValueError, KeyError, IndexError):
        return float("nan")


def _child(spec: dict[str, Any]) -> float:
    from tagformer.bench.inputs import synthetic_jets
    from tagformer.models import create_model
    from tagformer.models.inference import prepare_for_inference

    torch.set_num_threads(int(spec.get("threads", 1)))
    model = create_model(
        spec["model"],
        num_classes=int(spec["num_classes"]),
        in_features=int(spec["in_features"]),
        num_particles=int(spec["particles"]),
        **dict(spec.get("overrides") or {}),
    )
    model = prepare_for_inference(model)
    batch = synthetic_jets(int(spec["batch"]), int(spec["particles"]), int(spec["in_features"]))
    bf16 = spec.get("dtype", "fp32") == "bf16"

    def call() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(batch)

    return peak_rss_delta_mb(call)


if __name__ == "__main__":  # pragma: no cover - exercised through peak_rss_subprocess
    print(json.dumps({"peak_mb": _child(json.loads(sys.argv[1]))}))
