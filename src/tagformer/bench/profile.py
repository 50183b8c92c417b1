"""Cost profile of zoo models: parameters, MACs/FLOPs, latency, throughput, peak memory, FLOP/s fraction.

One row per (model preset, particle count, batch size); the columns are :data:`PROFILE_COLUMNS`, the
schema ``tagformer profile`` writes and ``tagformer compare --profile`` reads. Conventions (DESIGN.md §6):

- ``params``: trainable parameters; ``flops_per_jet`` counted by ``torch.utils.flop_counter``
  (:mod:`tagformer.bench.flops`), ``flops_per_jet = 2 * macs_per_jet``, on full jets (every slot real).
- ``latency_ms_p50`` / ``latency_ms_p99``: median / 99th percentile wall time of one forward call of
  ``batch`` jets (at ``batch = 1`` this is the per-jet latency), after warm-up, under
  ``torch.inference_mode``; CUDA calls are timed with ``torch.cuda.Event`` and synchronised.
- ``cpu_ms_p50``: median process CPU time of one call (CPU device only; NaN on CUDA). With one thread this
  is the call's latency on an idle core: the robust figure when the machine is shared and oversubscribed.
- ``throughput_jets_s = batch / median call time``.
- ``peak_mem_mb``: see ``mem_method`` — CUDA ``max_memory_allocated`` delta, or on CPU the peak RSS
  delta of one call (:mod:`tagformer.bench.memory`), in MiB.
- ``flops_fraction``: achieved FLOP/s (``flops_per_jet * throughput``) divided by the dense matmul FLOP/s
  of the same machine, dtype and thread count measured in the same run (``matmul_gflops``).
- ``dtype = bf16`` runs under ``torch.autocast``; ``compile`` wraps the model in ``torch.compile``.
"""

from __future__ import annotations

import csv
import fnmatch
import math
import platform
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagformer.errors import ConfigError, ModelError

#: The profile CSV schema, in column order (one place; ``compare --profile`` reads these names).
PROFILE_COLUMNS: tuple[str, ...] = (
    "model",
    "preset",
    "particles",
    "batch",
    "device",
    "dtype",
    "compile",
    "threads",
    "params",
    "macs_per_jet",
    "flops_per_jet",
    "latency_ms_p50",
    "latency_ms_p99",
    "cpu_ms_p50",
    "throughput_jets_s",
    "peak_mem_mb",
    "mem_method",
    "flops_fraction",
    "matmul_gflops",
    "repeats",
)

_DTYPES = ("fp32", "bf16")
_MEMORY = ("auto", "subprocess", "inprocess", "off")


@dataclass(frozen=True)
class ProfileConfig:
    """What to measure and how (typed; validated by :meth:`check`)."""

    particles: tuple[int, ...] = (16, 32, 64, 150)
    batches: tuple[int, ...] = (1, 1024)
    device: str = "cpu"
    dtype: str = "fp32"
    compile: bool = False
    threads: int | None = None
    in_features: int = 3
    num_classes: int = 5
    warmup: int = 5
    repeats: int = 50
    budget_s: float = 2.0
    memory: str = "auto"
    calibrate_size: int = 2048

    def check(self) -> ProfileConfig:
        """Raise :class:`ConfigError` on impossible settings; return ``self``."""
        if not self.particles or any(int(n) < 1 for n in self.particles):
            raise ConfigError(f"particle counts must be positive integers, got {list(self.particles)}")
        if not self.batches or any(int(b) < 1 for b in self.batches):
            raise ConfigError(f"batch sizes must be positive integers, got {list(self.batches)}")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        if self.memory not in _MEMORY:
            raise ConfigError(f"memory must be one of {', '.join(_MEMORY)}, got {self.memory!r}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device must be cpu or cuda, got {self.device!r}")
        if self.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("--device cuda was asked for but no CUDA device is available")
        if self.repeats < 1 or self.warmup < 0:
            raise ConfigError("repeats must be >= 1 and warmup >= 0")
        return self


def resolve_targets(patterns: str | Sequence[str]) -> list[tuple[str, str]]:
    """``(model, preset)`` pairs matching comma-separated shell-style patterns.

    A pattern matching a preset name selects that preset; one matching a model name selects the model's
    default preset. Raises :class:`ModelError` if a pattern matches nothing.
    """
    from tagformer.models import list_entries

    items = [p.strip() for p in (patterns.split(",") if isinstance(patterns, str) else patterns)]
    items = [p for p in items if p]
    if not items:
        raise ModelError("no model pattern given (e.g. --models 'phat*,salt')")
    entries = list_entries()
    found: list[tuple[str, str]] = []
    for pattern in items:
        hits = [(e.name, e.default) for e in entries if fnmatch.fnmatch(e.name, pattern)]
        hits += [(e.name, p) for e in entries for p in e.presets if fnmatch.fnmatch(p, pattern)]
        if not hits:
            names = ", ".join(e.name for e in entries) or "(none registered)"
            raise ModelError(f"no model or preset matches {pattern!r}; models: {names}")
        for hit in hits:
            if hit not in found:
                found.append(hit)
    return found


@contextmanager
def num_threads(threads: int | None) -> Iterator[int]:
    """Set torch's intra-op thread count for the block (restored afterwards); yields the count used."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def machine_description() -> str:
    """One line naming the machine: CPU model and logical cores, torch version (and GPU if any)."""
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()}"
    return text


def profile_models(patterns: str | Sequence[str], config: ProfileConfig | None = None,
                   progress: Any = None) -> list[dict[str, Any]]:
    """Profile every model/preset matching ``patterns``; one dict per row with :data:`PROFILE_COLUMNS`.

    ``progress`` is an optional callable receiving each finished row (for printing as it goes).
    """
    from tagformer.bench.measure import calibrate, measure_target

    config = (config or ProfileConfig()).check()
    targets = resolve_targets(patterns)
    rows: list[dict[str, Any]] = []
    with num_threads(config.threads) as threads:
        matmul = calibrate(config)
        for model, preset in targets:
            for particles in config.particles:
                for row in measure_target(model, preset, int(particles), config, threads, matmul):
                    rows.append(row)
                    if progress is not None:
                        progress(row)
    return rows


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows with exactly :data:`PROFILE_COLUMNS` (in order) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(PROFILE_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row[k]) for k in PROFILE_COLUMNS})
    return path


def read_csv(path: str | Path) -> list[dict[str, str]]:
    """Read a profile CSV back; raises :class:`ConfigError` if its header is not the profile schema."""
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in PROFILE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"{path} is not a tagformer profile CSV: missing columns {', '.join(missing)}")
        return list(reader)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return value


def to_markdown(rows: Sequence[dict[str, Any]], title: str | None = None) -> str:
    """A markdown table of the rows (human units: MFLOPs, ms, jets/s, MiB, % of matmul)."""
    head = ["model", "preset", "N", "batch", "params", "MFLOPs/jet", "p50 ms", "p99 ms", "CPU ms", "jets/s",
            "peak MiB", "% matmul"]
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], r["preset"], r["particles"], r["batch"], f"{r['params']:,}",
                 f"{r['flops_per_jet'] / 1e6:.3g}", f"{r['latency_ms_p50']:.3g}", f"{r['latency_ms_p99']:.3g}",
                 _num(r["cpu_ms_p50"], ".3g"),
                 f"{r['throughput_jets_s']:,.0f}", _num(r["peak_mem_mb"], ".1f"),
                 _num(100 * r["flops_fraction"], ".1f")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _num(value: float, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)
