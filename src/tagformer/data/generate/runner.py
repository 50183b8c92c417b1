"""Run a generation: plan shards, resume finished ones, run the rest on worker processes.

Shards are written atomically into ``<output>.parts/`` beside the output together with
``settings.json``; rerunning the same command skips finished shards, so an interrupted run resumes
and ends with the same arrays as an uninterrupted one. The caller holds the parts directory's lock
(:func:`tagformer.data.generate.lock.run_lock`) around :func:`run_shards`.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tagformer.data.generate.config import GenerateConfig
from tagformer.data.generate.extras import import_failure
from tagformer.data.generate.parts import (
    parts_dir,
    read_settings,
    remove_files,
    remove_temporaries,
    shard_files,
    shard_path,
    write_error,
    write_settings,
)
from tagformer.data.generate.pool import run_tasks
from tagformer.data.generate.progress import JetProgress
from tagformer.data.generate.shard import ShardSpec, generate_shard, plan_shards
from tagformer.data.generate.writer import check_shard, write_arrays
from tagformer.errors import ConfigError, DataError


@dataclass
class RunReport:
    """What a call to :func:`run_shards` did (timings summed over the shards it generated)."""

    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    jets: int = 0
    events: int = 0
    wall: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def check_output(output: Path, overwrite: bool, writes_output: bool = True) -> None:
    """Refuse an existing output (without ``overwrite``) and an unwritable location, before any work.

    ``writes_output`` is False for a ``--shard`` slice: it writes only the parts directory, so an existing
    output is left alone (the later ``merge`` asks for ``--overwrite``).
    """
    output = Path(output)
    if output.is_dir():
        raise DataError(f"output {output} is a directory; give a file name such as {output / 'jets.h5'}")
    if writes_output and output.exists() and not overwrite:
        raise DataError(f"output {output} already exists; use --overwrite to replace it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in output.parents if p.exists()), None)
        where = f" ({blocker} is a file)" if blocker is not None and not blocker.is_dir() else ""
        raise DataError(f"cannot create the directory of output {output}: {exc.strerror}{where}") from None
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write output {output}: directory {output.parent} is not writable")


def select_shards(shards: list[ShardSpec], part: tuple[int, int] | None) -> list[ShardSpec]:
    """The slice ``i/n`` of the shard plan (every n-th shard from i); all shards for ``None``."""
    if part is None:
        return shards
    i, n = part
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {i}/{n} is invalid: need 0 <= i < n")
    return shards[i::n]


def _stored_settings(parts: Path, overwrite: bool) -> dict | None:
    """The settings in ``parts``; an unreadable or foreign settings file is replaced only with ``overwrite``."""
    try:
        return read_settings(parts)
    except DataError as exc:
        if overwrite:
            return None
        raise DataError(f"{exc}; use --overwrite to replace it") from None


def prepare_parts(config: GenerateConfig, part: tuple[int, int] | None = None) -> Path:
    """Make the parts directory ready for this run (the caller holds its lock).

    - Same settings: resume (``overwrite`` regenerates the shards of this run, or of this slice only).
    - Other settings and no shard: nothing to protect, the new settings replace the old ones.
    - Other settings and shards: refused without ``overwrite``; with it the old shards are deleted, unless
      this is a ``--shard`` slice and shards outside the slice exist (never another slice's shards).
    """
    parts = parts_dir(config.output)
    remove_temporaries(parts)
    new = config.physics_settings()
    old = _stored_settings(parts, config.overwrite)
    existing = shard_files(parts)
    ours = {shard_path(parts, s) for s in select_shards(plan_shards(config), part)}
    if old != new and existing:
        if not config.overwrite:
            changed = sorted(k for k in set(old or {}) | set(new) if (old or {}).get(k) != new.get(k))
            raise ConfigError(f"{parts} holds shards made with different settings ({', '.join(changed)}); "
                              "rerun with the same settings to resume, or use --overwrite to start again")
        others = [p for p in existing if p not in ours] if part is not None else []
        if others:
            raise ConfigError(f"{parts} holds {len(others)} shard(s) of other slices made with different settings "
                              f"(first: {others[0].name}); --overwrite --shard replaces only this slice's shards: "
                              f"delete {parts} to start again")
        remove_files(existing)
    elif config.overwrite:
        remove_files([p for p in existing if p in ours] if part is not None else existing)
    parts.mkdir(parents=True, exist_ok=True)
    if old != new:
        write_settings(parts, new)
    return parts


def _run_one(config: GenerateConfig, parts: str, spec: ShardSpec, progress=None) -> tuple[str, int, dict]:
    """Generate one shard and write it atomically (in a worker process or inline)."""
    try:
        result = generate_shard(config, spec, progress)
    except ImportError as exc:
        raise import_failure(exc) from None
    t0 = time.perf_counter()
    attrs = {"fingerprint": config.fingerprint(), "label": spec.label, "index": spec.index,
             "count": spec.count, "events": result.events}
    path = shard_path(Path(parts), spec)
    try:
        write_arrays(path, result.constituents, result.jets, attrs, targets=result.targets)
    except OSError as exc:
        raise write_error(path, exc, Path(parts)) from None
    result.timings["io"] = time.perf_counter() - t0
    return spec.name, result.events, result.timings


def run_shards(config: GenerateConfig, part: tuple[int, int] | None = None,
               show_progress: bool = True) -> RunReport:
    """Generate every missing shard of the run (or of its slice ``part``) into the parts directory."""
    parts = prepare_parts(config, part)
    todo, report = [], RunReport()
    for spec in select_shards(plan_shards(config), part):
        path = shard_path(parts, spec)
        if path.exists():
            check_shard(path, config.fingerprint(), spec.count)
            report.skipped.append(spec.name)
        else:
            todo.append(spec)
    # run classes round-robin so an interrupted run holds a balanced sample (merge order is fixed anyway)
    todo.sort(key=lambda s: (s.index, config.classes.index(s.label)))
    total = sum(s.count for s in todo)
    workers = min(config.workers or os.cpu_count() or 1, max(len(todo), 1))
    start = time.perf_counter()
    with JetProgress(total, f"generating {len(todo)} shards on {workers} worker(s)", show_progress) as bar:
        work = functools.partial(_run_one, config, str(parts))
        if workers <= 1:
            results = [work(spec, bar.advance) for spec in todo]
        else:
            results = run_tasks(todo, work, workers, parts, describe=lambda s: f"shard {s.name}",
                                on_progress=bar.advance)
    report.wall = time.perf_counter() - start
    for name, events, timings in results:
        report.generated.append(name)
        report.events += events
        for key, value in timings.items():
            report.timings[key] = report.timings.get(key, 0.0) + value
    report.jets = total
    return report

