"""Join the shards of a run into one HDF5 file in the hls4ml layout (shuffled deterministically)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tagformer.data.generate.config import GenerateConfig
from tagformer.data.generate.lock import run_lock
from tagformer.data.generate.memory import check_merge_memory
from tagformer.data.generate.parts import config_from_settings, parts_dir, remove_run_files, shard_path, write_error
from tagformer.data.generate.runner import check_output
from tagformer.data.generate.shard import ShardSpec, plan_shards
from tagformer.data.generate.writer import JET_FEATURE_NAMES, TARGET_NAMES, metadata_attrs, read_shard, write_arrays
from tagformer.errors import DataError


def load_parts_config(output: Path, parts: Path | None = None) -> tuple[GenerateConfig, Path]:
    """The settings a parts directory was generated with, as a config targeting ``output``."""
    parts = Path(parts) if parts is not None else parts_dir(output)
    return config_from_settings(parts, output), parts


def _balanced_prefix(shards: list[ShardSpec], parts: Path, classes: tuple[str, ...]) -> list[ShardSpec]:
    """The shards 0..k-1 of every class, for the largest k that every class has finished."""
    rounds = []
    for label in classes:
        own = [s for s in shards if s.label == label]
        k = next((i for i, s in enumerate(own) if not shard_path(parts, s).exists()), len(own))
        rounds.append(k)
    k = min(rounds)
    return [s for s in shards if s.index < k]


def _same_path(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def merge_parts(output: Path, parts: Path | None = None, overwrite: bool = False, keep_parts: bool = False,
                command: str = "", partial: bool = False, lock: bool = True) -> Path:
    """Merge every shard of a run into ``output`` (atomically) and, unless ``keep_parts``, delete them.

    Parameters
    ----------
    partial
        Merge only the finished, balanced part of a run still in progress (the first k shards of every
        class) and keep the shards; the metadata records ``partial = True`` and the jets per class.
        ``output`` must not be the run's own output (whose parts directory is ``parts``).
    lock
        Take the parts directory's lock (not for ``partial``, which only reads). False when the caller
        already holds it (``generate``).

    Raises
    ------
    DataError
        If the output exists (without ``overwrite``), a shard is missing, corrupt or from other settings,
        the settings file is not one of ``tagformer generate``, the disk is full (the shards are kept) or
        the merge needs more memory than the machine has.
    """
    output = Path(output)
    parts = Path(parts) if parts is not None else parts_dir(output)
    if partial and _same_path(parts, parts_dir(output)):
        snapshot = output.with_name(f"{output.stem}-partial{output.suffix or '.h5'}")
        raise DataError(f"--partial writes a snapshot of a run in progress, not the run's own output {output}: "
                        f"give --parts {parts} and another output file, e.g. `tagformer merge {snapshot} "
                        f"--parts {parts} --partial`")
    check_output(output, overwrite)
    config = config_from_settings(parts, output)
    if partial or not lock:
        return _merge(config, parts, keep_parts or partial, command, partial)
    with run_lock(parts):
        return _merge(config, parts, keep_parts, command, partial)


def _merge(config: GenerateConfig, parts: Path, keep_parts: bool, command: str, partial: bool) -> Path:
    output = config.output
    shards = plan_shards(config)
    if partial:
        shards = _balanced_prefix(shards, parts, config.classes)
        if not shards:
            raise DataError(f"no class has a finished first shard in {parts} yet; nothing to merge")
    missing = [s.name for s in shards if not shard_path(parts, s).exists()]
    if missing:
        raise DataError(f"{len(missing)} of {len(shards)} shards are missing in {parts} (first: {missing[0]}); "
                        "generate them before merging, or use --partial")
    n_jets = sum(s.count for s in shards)
    check_merge_memory(config, n_jets)
    try:
        constituents, jets, targets, events = _assemble(config, parts, shards, n_jets)
    except MemoryError:
        raise DataError(f"out of memory while merging {n_jets:,} jets from {parts}; the shards are kept") from None
    settings = config.physics_settings()
    if partial:
        settings["jets_per_class"] = n_jets // len(config.classes)
    meta = metadata_attrs(settings, config.seed, command, len(shards), events)
    meta["partial"] = partial
    try:
        write_arrays(output, constituents, jets, {}, meta, targets=targets)
    except OSError as exc:
        raise write_error(output, exc, parts) from None
    if not keep_parts:
        remove_run_files(parts, [shard_path(parts, s) for s in shards])
    return output


def _assemble(config: GenerateConfig, parts: Path, shards: list[ShardSpec],
              n_jets: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The merged arrays, shuffled by the run's permutation, filled shard by shard (one shard in memory)."""
    constituents = np.empty((n_jets, config.n_constituents, 16), np.float32)
    jets = np.empty((n_jets, len(JET_FEATURE_NAMES)), np.float32)
    targets = np.empty((n_jets, len(TARGET_NAMES)), np.float32)
    if config.shuffle:
        order = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(99,))).permutation(n_jets)
        destination = np.empty(n_jets, np.int64)
        destination[order] = np.arange(n_jets)  # row i of the shards in plan order goes to destination[i]
    else:
        destination = np.arange(n_jets)
    fingerprint, start, events = config.fingerprint(), 0, 0
    for spec in shards:
        path = shard_path(parts, spec)
        c, j, t = read_shard(path, fingerprint, spec.count)
        rows = destination[start:start + spec.count]
        constituents[rows], jets[rows], targets[rows] = c, j, t
        start += spec.count
        events += _events(path)
    return constituents, jets, targets, events


def _events(path: Path) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return int(f.attrs.get("events", 0))
