"""Wall-clock timing of a callable: warm-up, repeats, median and p99 (DESIGN.md §6).

On CUDA every call is bracketed by ``torch.cuda.Event`` records and the stream is synchronised before
the elapsed time is read, so asynchronous launches are never mistaken for finished work. On CPU the
monotonic ``time.perf_counter`` clock is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Timing:
    """Per-call wall times in milliseconds of ``repeats`` calls after ``warmup`` calls."""

    times_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.times_ms, 99))

    @property
    def total_s(self) -> float:
        return float(sum(self.times_ms)) / 1e3


def time_calls(
    fn: Callable[[], Any],
    *,
    device: str | torch.device = "cpu",
    warmup: int = 5,
    repeats: int = 50,
    budget_s: float | None = None,
    min_repeats: int = 3,
) -> Timing:
    """Time ``fn()`` call by call.

    Parameters
    ----------
    fn : the zero-argument callable to time (e.g. ``lambda: model(batch)``).
    device : where ``fn`` runs; ``"cuda"`` switches to CUDA-event timing with synchronisation.
    warmup : untimed calls first (allocator, kernel selection, ``torch.compile`` graphs); fewer when
        ``budget_s`` is set and one call is slow.
    repeats : timed calls.
    budget_s : optional time budget: the first warm-up call is timed and ``warmup`` and ``repeats`` are
        reduced so that the timed calls take about ``budget_s`` (never fewer than ``min_repeats``).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    cuda = torch.device(device).type == "cuda"

    def once() -> float:
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3

    if cuda:
        torch.cuda.synchronize()
    done = 0
    last_s = 0.0
    # The first call may include compilation; with a budget a second warm-up call says what one costs.
    while done < min(warmup, 2 if budget_s is not None else 1):
        last_s = max(once() / 1e3, 1e-9)
        done += 1
    if budget_s is not None and done:
        fit = int(budget_s / last_s)
        repeats = max(min(repeats, fit), min(min_repeats, repeats))
        warmup = max(min(warmup, fit // 4), done)
    for _ in range(warmup - done):
        fn()
    times = [once() for _ in range(repeats)]
    return Timing(tuple(times))


def matmul_flops_per_s(
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    size: int = 2048,
    repeats: int = 5,
) -> float:
    """Dense matmul FLOP/s of this machine at the current thread count: ``size x size`` by
    ``size x size`` (``2 size^3`` FLOPs), median of ``repeats`` calls after warm-up.

    This is the calibration the profiler divides achieved FLOP/s by (``flops_fraction``).
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    with torch.inference_mode():
        timing = time_calls(lambda: torch.mm(a, b), device=device, warmup=2, repeats=repeats)
    return 2.0 * size**3 / (timing.median_ms / 1e3)
