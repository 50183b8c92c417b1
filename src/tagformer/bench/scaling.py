"""Forward time per jet as a function of the particle count N, and its fitted power-law exponent.

For every model (at a stated preset, by default its smallest) and every N, a batch of synthetic jets
with all N slots real (:func:`tagformer.bench.inputs.synthetic_jets`, worst case for every model) is
run under ``torch.inference_mode`` after warm-up; the median of the repeats divided by the batch size is
the time per jet. The exponent is the least-squares slope of log(time) against log(N) over the Ns at or
above ``fit_from`` (quadratic attention gives ~2, linear attention ~1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tagformer.errors import TagformerError

DEFAULT_NS = (32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True)
class ScalingConfig:
    """Settings of one scaling run (all stated next to the results).

    jets_per_call : particles per call are kept near ``jets_per_call * 128`` by using
        ``batch = max(min_batch, jets_per_call * 128 // N)`` jets, so every call does similar work.
    """

    ns: tuple[int, ...] = DEFAULT_NS
    jets_per_call: int = 64
    min_batch: int = 2
    threads: int = 1
    warmup: int = 2
    repeats: int = 7
    budget_s: float = 2.0
    fit_from: int = 256
    features: int = 3
    classes: int = 5
    seed: int = 0

    def batch_size(self, n: int) -> int:
        return max(self.min_batch, self.jets_per_call * 128 // n)


@dataclass
class ScalingResult:
    """Per-jet forward times (ms) of one model preset at each N (``nan`` where it failed)."""

    model: str
    preset: str
    ns: tuple[int, ...]
    ms_per_jet: list[float] = field(default_factory=list)
    error: str = ""

    def exponent(self, fit_from: int) -> float:
        return fit_exponent(self.ns, self.ms_per_jet, fit_from)


def fit_exponent(ns: Sequence[int], times: Sequence[float], fit_from: int) -> float:
    """Slope of log(time) vs log(N) over the finite points with ``N >= fit_from`` (nan if < 2 points)."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, times) if n >= fit_from and t > 0 and math.isfinite(t)]
    if len(pts) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def measure_model(name: str, config: ScalingConfig, preset: str | None = None) -> ScalingResult:
    """Time one registered model (``preset`` or its smallest) at every N of ``config``."""
    import torch

    from tagformer.bench.inputs import synthetic_jets
    from tagformer.bench.machine import num_threads
    from tagformer.bench.timing import time_calls
    from tagformer.models import create_model, get_entry
    from tagformer.models.inference import prepare_for_inference

    entry = get_entry(name)
    preset = preset or entry.smallest
    result = ScalingResult(model=entry.name, preset=preset, ns=tuple(config.ns))
    with num_threads(config.threads), torch.inference_mode():
        for n in config.ns:
            try:
                torch.manual_seed(config.seed)
                model = prepare_for_inference(create_model(preset, num_classes=config.classes,
                                                           in_features=config.features, num_particles=n))
                batch = synthetic_jets(config.batch_size(n), n, config.features, seed=config.seed)
                timing = time_calls(lambda m=model, b=batch: m(b), warmup=config.warmup, repeats=config.repeats,
                                    budget_s=config.budget_s)
                result.ms_per_jet.append(timing.median_ms / len(batch))
            except (TagformerError, RuntimeError, ValueError) as exc:
                result.ms_per_jet.append(float("nan"))
                result.error = result.error or f"N={n}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return result


def to_markdown(results: Sequence[ScalingResult], fit_from: int) -> str:
    """Markdown table: one row per model, ms/jet at each N, then the fitted exponent."""
    ns = results[0].ns if results else ()
    head = "| model (preset) | " + " | ".join(f"N={n}" for n in ns) + f" | exponent (N>={fit_from}) |"
    lines = [head, "|" + "---|" * (len(ns) + 2)]
    for r in results:
        cells = " | ".join(f"{t:.4f}" if math.isfinite(t) else "n/a" for t in r.ms_per_jet)
        exp = r.exponent(fit_from)
        lines.append(f"| {r.model} ({r.preset}) | {cells} | {exp:.2f} |" if math.isfinite(exp)
                     else f"| {r.model} ({r.preset}) | {cells} | n/a |")
    return "\n".join(lines)
