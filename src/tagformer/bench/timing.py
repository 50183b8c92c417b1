"""Wall-clock timing of a callable: warm-up, repeats, median and p99.

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
    """Per-call wall times in milliseconds of ``repeats`` calls after ``warmup`` calls.

    ``cpu_ms`` holds the process CPU time (all threads, ``time.process_time``) of the same calls on CPU:
    with one thread it is the latency the call would have on an idle core, which makes it the robust
    figure on a shared, oversubscribed machine (wall time there includes waiting for a core).
    """

    times_ms: tuple[float, ...]
    cpu_ms: tuple[float, ...] = ()

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.times_ms, 99))

    @property
    def cpu_median_ms(self) -> float:
        return float(np.median(self.cpu_ms)) if self.cpu_ms else float("nan")

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

    cpu: list[float] = []

    def once() -> float:
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall = (time.perf_counter() - t0) * 1e3
        cpu.append((time.process_time() - c0) * 1e3)
        return wall

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
    cpu.clear()
    times = [once() for _ in range(repeats)]
    return Timing(tuple(times), tuple(cpu))


def matmul_flops_per_s(
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    size: int = 2048,
    repeats: int = 5,
    clock: str = "wall",
) -> float:
    """Dense matmul FLOP/s of this machine at the current thread count: ``size x size`` by
    ``size x size`` (``2 size^3`` FLOPs), median of ``repeats`` calls after warm-up.

    This is the calibration the profiler divides achieved FLOP/s by (``flops_fraction``). ``clock="cpu"``
    uses process CPU time instead of wall time (CPU device only; see :class:`Timing`).
    """
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    with torch.inference_mode():
        timing = time_calls(lambda: torch.mm(a, b), device=device, warmup=2, repeats=repeats)
    ms = timing.cpu_median_ms if clock == "cpu" else timing.median_ms
    return 2.0 * size**3 / (ms / 1e3)
