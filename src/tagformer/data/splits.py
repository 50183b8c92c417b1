"""Train/val/test splits: explicit paths, a dataset's published splits, or a deterministic fraction split.

Published layouts recognised when ``path`` is a directory: sub-directories or files whose names start with
``train``, ``val`` and ``test`` (JetClass ``train_100M/ val_5M/ test_20M/``, Top Tagging
``train.h5 val.h5 test.h5``, hls4ml ``train/ val/``). Splits a layout lacks are carved deterministically
from the training files' jets by fraction; published splits are never mixed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from tagformer.data.formats import resolve_files
from tagformer.errors import ConfigError

SPLITS = ("train", "val", "test")
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


@dataclass
class SplitPlan:
    """Files per split; a split with no files is carved from ``train`` by ``fractions``."""

    files: dict[str, list[str]]
    fractions: dict[str, float] = field(default_factory=dict)
    published: bool = False

    def has(self, split: str) -> bool:
        """False for a split with neither files nor a fraction (e.g. ``val_fraction=0``): it stays empty."""
        return split in self.files or split in self.fractions


def _published(path: str) -> dict[str, list[str]] | None:
    if not os.path.isdir(path):
        return None
    found: dict[str, list[str]] = {}
    for name in sorted(os.listdir(path)):
        for split in SPLITS:
            if name.lower().startswith(split) and split not in found:
                full = os.path.join(path, name)
                if os.path.isdir(full) or name.endswith((".h5", ".hdf5", ".root", ".npz")):
                    found[split] = resolve_files(full)
    return found if "train" in found and len(found) >= 2 else None


def plan_splits(path: str, val_path: str | None, test_path: str | None, val_fraction: float,
                test_fraction: float) -> SplitPlan:
    """Decide where each split's jets come from."""
    for name, frac in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {frac}.")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(f"val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}.")
    published = _published(path) if val_path is None and test_path is None else None
    files = published or {"train": resolve_files(path)}
    if val_path is not None:
        files["val"] = resolve_files(val_path)
    if test_path is not None:
        files["test"] = resolve_files(test_path)
    fractions = {s: f for s, f in (("val", val_fraction), ("test", test_fraction))
                 if s not in files and f > 0}
    return SplitPlan(files=files, fractions=fractions, published=published is not None)


def jet_split(global_index: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """Split id (0 train, 1 val, 2 test) of each jet from a hash of its (file, entry) index.

    In-memory and streaming loading use the same hash, so a jet lands in the same split either way,
    independently of chunking, workers and ``max_jets``.
    """
    z = global_index.astype(np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finaliser
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) / 2.0**53
    val, test = fractions.get("val", 0.0), fractions.get("test", 0.0)
    return np.where(u < val, 1, np.where(u < val + test, 2, 0))
