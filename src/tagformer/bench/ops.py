"""Which operators a forward pass spends its time in (torch.profiler, self CPU/CUDA time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def op_breakdown(fn: Callable[[], Any], *, top: int = 10, warmup: int = 2, repeats: int = 3,
                 device: str = "cpu") -> list[dict[str, Any]]:
    """Top ``top`` operators of ``fn()`` by self time, over ``repeats`` profiled calls after warm-up.

    Returns dicts with ``op``, ``calls`` (per forward), ``self_ms`` (per forward) and ``percent`` of the
    total self time. On CUDA the device self time is used.
    """
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        fn()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    attr = "self_device_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    total = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [
        {"op": e.key, "calls": e.count / repeats, "self_ms": getattr(e, attr) / 1e3 / repeats,
         "percent": 100.0 * getattr(e, attr) / total}
        for e in events[:top]
    ]
