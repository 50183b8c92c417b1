"""A fixed, seeded, class-balanced subset of labelled jets (``data.label_fraction``).

Fine-tuning with few labels keeps a fraction of the training split: the same share of every class, chosen
from the seed alone, so that two runs with the same seed and fraction see the same jets, and a smaller
fraction's jets are a subset of a larger one's (the per-class order is drawn once and cut).
"""

from __future__ import annotations

import numpy as np

from tagformer.errors import ConfigError


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1]; ConfigError naming ``data.label_fraction`` otherwise."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise ConfigError(f"data.label_fraction must be a number in (0, 1], got {fraction!r}") from None
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"data.label_fraction must be in (0, 1], got {fraction!r}")
    return value


def label_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices into ``labels`` (n,) keeping ``fraction`` of each class.

    Each class keeps ``max(1, round(fraction * count))`` jets (all of them at fraction 1), chosen by a
    permutation drawn from (``seed``, class label): the result depends only on the labels, the fraction and
    the seed, and nests (a smaller fraction keeps a subset of a larger one's jets).
    """
    value = check_fraction(fraction)
    labels = np.asarray(labels)
    keep: list[np.ndarray] = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        k = len(idx) if value >= 1.0 else min(len(idx), max(1, round(value * len(idx))))
        order = np.random.default_rng([int(seed), int(cls) & 0x7FFFFFFF, 0x1ABE1]).permutation(len(idx))
        keep.append(idx[order[:k]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
