"""Cost profile of tagger models: parameters, MACs/FLOPs, latency, throughput, peak memory, FLOP/s fraction.

One row per (model configuration, particle count, batch size); the columns are :data:`PROFILE_COLUMNS`,
the schema ``tagformer profile`` writes and ``tagformer compare --profile`` reads.

- :func:`profile_model`: any model: a registered name or preset with constructor overrides, or an
  ``nn.Module`` already built (what an architecture search calls on each candidate);
- :func:`profile_models`: every registered model or preset matching name patterns (``tagformer profile``).

Conventions:

- ``params``: trainable parameters (:func:`tagformer.bench.flops.count_params`).
- ``flops_per_jet`` (``= 2 * macs_per_jet``): :func:`tagformer.bench.flops.model_flops_per_jet`, the
  convention of every FLOP figure tagformer reports (:data:`tagformer.bench.flops.FLOPS_CONVENTION`:
  ``torch.utils.flop_counter``, per jet, every one of the N particle slots real), so a profile row, a
  training run's ``summary.json`` and ``tagformer compare`` agree for the same model and N.
- ``latency_ms_p50`` / ``latency_ms_p99``: median / 99th percentile wall time of one forward call of
  ``batch`` jets (at ``batch = 1`` this is the per-jet latency), after warm-up, under
  ``torch.inference_mode``; CUDA calls are timed with ``torch.cuda.Event`` and synchronised.
- ``cpu_ms_p50``: median process CPU time of one call (CPU device only; NaN on CUDA). With one thread this
  is the call's latency on an idle core: the robust figure when the machine is shared and oversubscribed.
- ``throughput_jets_s = batch / median call time``.
- ``peak_mem_mb``: see ``mem_method``: CUDA ``max_memory_allocated`` delta, or on CPU the peak RSS
  delta of one call (:mod:`tagformer.bench.memory`), in MiB.
- ``flops_fraction``: achieved FLOP/s (``flops_per_jet * throughput``) divided by the dense matmul FLOP/s
  of the same machine, dtype and thread count measured in the same run (``matmul_gflops``).
- ``dtype = bf16`` runs under ``torch.autocast``; ``compile`` wraps the model in ``torch.compile``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from tagformer.atomic import atomic_write_text
from tagformer.bench.config import ProfileConfig
from tagformer.bench.machine import num_threads
from tagformer.bench.measure import calibrate, measure_rows
from tagformer.bench.targets import Target, resolve_targets
from tagformer.errors import ConfigError

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


def _target_rows(target: Target, particles: int, config: ProfileConfig, threads: int, matmul: float
                 ) -> list[dict[str, Any]]:
    from tagformer.models import create_model

    model = create_model(target.preset, num_classes=config.num_classes, in_features=config.in_features,
                         num_particles=particles, **dict(target.overrides))
    rebuild = {"model": target.preset, "overrides": dict(target.overrides)}
    return list(measure_rows(model, model_name=target.model, preset=target.name, particles=particles,
                             config=config, threads=threads, matmul_flops=matmul, rebuild=rebuild))


def _run(targets: Sequence[Target | nn.Module], config: ProfileConfig, progress: Callable[[dict], Any] | None,
         module_name: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with num_threads(config.threads) as threads:
        matmul = calibrate(config)
        for target in targets:
            for particles in config.particles:
                if isinstance(target, Target):
                    new = _target_rows(target, int(particles), config, threads, matmul)
                else:
                    name = module_name or type(target).__name__
                    new = measure_rows(target, model_name=name, preset=name, particles=int(particles),
                                       config=config, threads=threads, matmul_flops=matmul)
                for row in new:
                    rows.append(row)
                    if progress is not None:
                        progress(row)
    return rows


def profile_model(model: str | nn.Module, in_features: int, num_particles: int | Sequence[int], *,
                  config: ProfileConfig | None = None, num_classes: int | None = None, name: str | None = None,
                  progress: Callable[[dict], Any] | None = None, **overrides: Any) -> list[dict[str, Any]]:
    """Profile one model; one dict per row with :data:`PROFILE_COLUMNS`.

    Parameters
    ----------
    model : a registered model or preset name (built with ``overrides`` at each particle count, like
        ``create_model``), or an ``nn.Module`` taking a :class:`~tagformer.data.batch.JetBatch` (measured
        as it is: put in eval mode and moved to ``config.device``; ``overrides`` must be empty).
    in_features : F of the synthetic jets (and of the built model).
    num_particles : the particle count(s) N to measure at (replaces ``config.particles``).
    config : batches, device, dtype, repeats, ... (:class:`~tagformer.bench.config.ProfileConfig`).
    num_classes : classes of a model built by name (default ``config.num_classes``).
    name : the ``model`` / ``preset`` label of an ``nn.Module``'s rows (default: its class name).
    progress : called with each finished row.
    """
    counts = (num_particles,) if isinstance(num_particles, int) else tuple(num_particles)
    base = config or ProfileConfig()
    config = dataclasses.replace(base, particles=counts, in_features=int(in_features),
                                 num_classes=int(num_classes if num_classes is not None else base.num_classes))
    config.check()
    if isinstance(model, nn.Module):
        if overrides:
            raise ConfigError(f"constructor overrides {sorted(overrides)} apply to a model built by name, "
                              "not to an nn.Module")
        return _run([model], config, progress, module_name=name)
    from tagformer.models.registry import model_kwargs, resolve

    entry, preset = resolve(model)
    model_kwargs(model, **overrides)  # unknown arguments fail before any measurement
    given = {k: v for k, v in overrides.items() if v is not None}
    return _run([Target(entry.name, preset, given)], config, progress)


def profile_models(patterns: str | Sequence[str], config: ProfileConfig | None = None,
                   progress: Callable[[dict], Any] | None = None,
                   overrides: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Profile every model/preset matching ``patterns`` (see :func:`~tagformer.bench.targets.resolve_targets`).

    ``progress`` is an optional callable receiving each finished row (for printing as it goes);
    ``overrides`` are constructor arguments applied to every matched model (each must accept them).
    """
    from tagformer.models.registry import model_kwargs

    config = (config or ProfileConfig()).check()
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    targets = [Target(model, preset, given) for model, preset in resolve_targets(patterns)]
    for target in targets:
        model_kwargs(target.preset, **given)  # unknown arguments fail before any measurement
    return _run(targets, config, progress)


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows with exactly :data:`PROFILE_COLUMNS` (in order) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(PROFILE_COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row[k]) for k in PROFILE_COLUMNS})
    return atomic_write_text(path, buf.getvalue())


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
