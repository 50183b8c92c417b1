"""Join the shards of a run into one HDF5 file in the hls4ml layout (shuffled deterministically)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tagformer.data.generate.config import GenerateConfig, make_config
from tagformer.data.generate.runner import SETTINGS_FILE, check_output, parts_dir, shard_path
from tagformer.data.generate.shard import ShardSpec, plan_shards
from tagformer.data.generate.writer import metadata_attrs, read_shard, write_arrays
from tagformer.errors import DataError


def load_parts_config(output: Path, parts: Path | None = None) -> tuple[GenerateConfig, Path]:
    """The settings a parts directory was generated with, as a config targeting ``output``."""
    parts = Path(parts) if parts is not None else parts_dir(output)
    settings = parts / SETTINGS_FILE
    if not settings.exists():
        raise DataError(f"no shards to merge: {settings} does not exist (run `tagformer generate --shard i/n` first)")
    try:
        values = json.loads(settings.read_text())
    except (OSError, ValueError):
        raise DataError(f"{settings} is corrupt; regenerate the shards") from None
    return make_config(output=output, **values), parts


def _balanced_prefix(shards: list[ShardSpec], parts: Path, classes: tuple[str, ...]) -> list[ShardSpec]:
    """The shards 0..k-1 of every class, for the largest k that every class has finished."""
    rounds = []
    for label in classes:
        own = [s for s in shards if s.label == label]
        k = next((i for i, s in enumerate(own) if not shard_path(parts, s).exists()), len(own))
        rounds.append(k)
    k = min(rounds)
    return [s for s in shards if s.index < k]


def merge_parts(output: Path, parts: Path | None = None, overwrite: bool = False, keep_parts: bool = False,
                command: str = "", partial: bool = False) -> Path:
    """Merge every shard of a run into ``output`` (atomically) and, unless ``keep_parts``, delete them.

    Parameters
    ----------
    partial
        Merge only the finished, balanced part of a run still in progress (the first k shards of every
        class) and keep the shards; the metadata records ``partial = True`` and the jets per class.

    Raises
    ------
    DataError
        If the output exists (without ``overwrite``), a shard is missing, corrupt or from other settings.
    """
    output = Path(output)
    check_output(output, overwrite)
    config, parts = load_parts_config(output, parts)
    shards = plan_shards(config)
    if partial:
        shards = _balanced_prefix(shards, parts, config.classes)
        if not shards:
            raise DataError(f"no class has a finished first shard in {parts} yet; nothing to merge")
        keep_parts = True
    missing = [s.name for s in shards if not shard_path(parts, s).exists()]
    if missing:
        raise DataError(f"{len(missing)} of {len(shards)} shards are missing in {parts} (first: {missing[0]}); "
                        "generate them before merging, or use --partial")
    cons, jets, events = [], [], 0
    fingerprint = config.fingerprint()
    for spec in shards:
        c, j = read_shard(shard_path(parts, spec), fingerprint, spec.count)
        cons.append(c)
        jets.append(j)
        events += _events(shard_path(parts, spec))
    all_cons, all_jets = np.concatenate(cons), np.concatenate(jets)
    del cons, jets
    if config.shuffle:
        order = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(99,))).permutation(len(all_jets))
        all_cons, all_jets = all_cons[order], all_jets[order]
    settings = config.physics_settings()
    if partial:
        settings["jets_per_class"] = len(all_jets) // len(config.classes)
    meta = metadata_attrs(settings, config.seed, command, len(shards), events)
    meta["partial"] = partial
    try:
        write_arrays(output, all_cons, all_jets, {}, meta)
    except OSError as exc:
        raise DataError(f"cannot write output {output}: {exc}") from None
    if not keep_parts:
        shutil.rmtree(parts, ignore_errors=True)
    return output


def _events(path: Path) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return int(f.attrs.get("events", 0))
