"""Run a generation: plan shards, resume finished ones, run the rest on worker processes, merge.

Shards are written atomically into ``<output>.parts/`` beside the output together with
``settings.json``; rerunning the same command skips finished shards, so an interrupted run resumes
and ends with the same arrays as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from tagformer.atomic import atomic_write_text
from tagformer.data.generate.config import GenerateConfig
from tagformer.data.generate.progress import JetProgress
from tagformer.data.generate.shard import ShardSpec, generate_shard, plan_shards
from tagformer.data.generate.writer import check_shard, write_arrays
from tagformer.errors import ConfigError, DataError

SETTINGS_FILE = "settings.json"


@dataclass
class RunReport:
    """What a call to :func:`run_shards` did (timings summed over the shards it generated)."""

    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    jets: int = 0
    events: int = 0
    wall: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def parts_dir(output: Path) -> Path:
    """The directory of shards beside ``output``."""
    output = Path(output)
    return output.with_name(output.name + ".parts")


def shard_path(parts: Path, spec: ShardSpec) -> Path:
    return parts / f"shard-{spec.name}.h5"


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse an existing output (without ``overwrite``) and an unwritable location, before any work."""
    output = Path(output)
    if output.is_dir():
        raise DataError(f"output {output} is a directory; give a file name such as {output / 'jets.h5'}")
    if output.exists() and not overwrite:
        raise DataError(f"output {output} already exists; use --overwrite to replace it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the directory of output {output}: {exc.strerror}") from None
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write output {output}: directory {output.parent} is not writable")


def prepare_parts(config: GenerateConfig) -> Path:
    """Create (or reuse, when the settings match) the parts directory of a run."""
    parts = parts_dir(config.output)
    settings = parts / SETTINGS_FILE
    if config.overwrite and parts.exists():
        shutil.rmtree(parts)
    if settings.exists():
        try:
            old = json.loads(settings.read_text())
        except (OSError, ValueError):
            raise DataError(f"{settings} is corrupt; delete {parts} or use --overwrite") from None
        if old != config.physics_settings():
            changed = sorted(k for k in set(old) | set(config.physics_settings())
                             if old.get(k) != config.physics_settings().get(k))
            raise ConfigError(f"{parts} holds shards made with different settings ({', '.join(changed)}); "
                              "rerun with the same settings to resume, or use --overwrite to start again")
        return parts
    try:
        parts.mkdir(parents=True, exist_ok=True)
        atomic_write_text(settings, json.dumps(config.physics_settings(), sort_keys=True, indent=1))
    except OSError as exc:
        raise DataError(f"cannot write shards into {parts}: {exc.strerror}") from None
    return parts


def _run_one(config_json: str, spec: ShardSpec, parts: str, queue: object | None) -> tuple[str, int, dict]:
    """Worker entry point: generate one shard and write it atomically."""
    config = GenerateConfig.model_validate_json(config_json)
    report = (lambda n: queue.put(n)) if queue is not None else None  # type: ignore[attr-defined]
    result = generate_shard(config, spec, report)
    t0 = time.perf_counter()
    attrs = {"fingerprint": config.fingerprint(), "label": spec.label, "index": spec.index,
             "count": spec.count, "events": result.events}
    write_arrays(shard_path(Path(parts), spec), result.constituents, result.jets, attrs)
    result.timings["io"] = time.perf_counter() - t0
    return spec.name, result.events, result.timings


def select_shards(shards: list[ShardSpec], part: tuple[int, int] | None) -> list[ShardSpec]:
    """The slice ``i/n`` of the shard plan (every n-th shard from i); all shards for ``None``."""
    if part is None:
        return shards
    i, n = part
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {i}/{n} is invalid: need 0 <= i < n")
    return shards[i::n]


def run_shards(config: GenerateConfig, part: tuple[int, int] | None = None,
               show_progress: bool = True) -> RunReport:
    """Generate every missing shard of the run (or of its slice ``part``) into the parts directory."""
    parts = prepare_parts(config)
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
        results = _execute(config, todo, str(parts), workers, bar)
    report.wall = time.perf_counter() - start
    for name, events, timings in results:
        report.generated.append(name)
        report.events += events
        for key, value in timings.items():
            report.timings[key] = report.timings.get(key, 0.0) + value
    report.jets = total
    return report


def _execute(config: GenerateConfig, todo: list[ShardSpec], parts: str, workers: int,
             bar: JetProgress) -> list[tuple[str, int, dict]]:
    config_json = config.model_dump_json()
    if workers <= 1:
        out = []
        for spec in todo:
            out.append(_run_one_inline(config_json, spec, parts, bar))
        return out
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_run_one, config_json, spec, parts, queue) for spec in todo]
            pending = set(futures)
            try:
                while pending:
                    _, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                    while not queue.empty():
                        bar.advance(queue.get())
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
            while not queue.empty():
                bar.advance(queue.get())
            return [f.result() for f in futures]


def _run_one_inline(config_json: str, spec: ShardSpec, parts: str, bar: JetProgress) -> tuple[str, int, dict]:
    class _Sink:
        def put(self, n: int) -> None:
            bar.advance(n)

    return _run_one(config_json, spec, parts, _Sink())
