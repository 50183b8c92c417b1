"""Particle orderings, applied as one index to features, p4, mask and extras alike.

Padded slots always go last. Orders (relative to the jet axis):
``pt`` descending pT; ``kt`` descending pT·ΔR; ``deltaR`` ascending ΔR; ``eta`` ascending Δη;
``morton`` ascending Z-order (bit-interleaved) code of the (Δη, Δφ) cell on a 0.05 grid over [-1.6, 1.6);
``random`` a random permutation per jet. Ties keep the incoming (pT) order.
"""

from __future__ import annotations

import numpy as np

from tagformer.errors import DataError

ORDERINGS: tuple[str, ...] = ("pt", "kt", "deltaR", "eta", "morton", "random")
MORTON_CELL = 0.05
MORTON_BITS = 6  # 64 cells of 0.05 = [-1.6, 1.6)


def check_ordering(name: str) -> None:
    if name not in ORDERINGS:
        raise DataError(f"unknown ordering '{name}'; choose one of {', '.join(ORDERINGS)}.")


def morton_code(deta: np.ndarray, dphi: np.ndarray) -> np.ndarray:
    """Z-order code of the (Δη, Δφ) cell (cells clipped to the grid edge)."""
    n = 1 << MORTON_BITS
    half = n * MORTON_CELL / 2
    ie = np.clip(np.floor((deta + half) / MORTON_CELL), 0, n - 1).astype(np.int64)
    ip = np.clip(np.floor((dphi + half) / MORTON_CELL), 0, n - 1).astype(np.int64)
    code = np.zeros_like(ie)
    for b in range(MORTON_BITS):
        code |= ((ie >> b) & 1) << (2 * b + 1) | ((ip >> b) & 1) << (2 * b)
    return code


def ordering_key(name: str, pt: np.ndarray, deta: np.ndarray, dphi: np.ndarray,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """An ascending sort key (N, P) for ordering ``name``."""
    check_ordering(name)
    if name == "pt":
        return -pt
    if name == "kt":
        return -pt * np.hypot(deta, dphi)
    if name == "deltaR":
        return np.hypot(deta, dphi)
    if name == "eta":
        return deta
    if name == "morton":
        return morton_code(deta, dphi).astype(np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)
    return rng.random(pt.shape)


def order_indices(name: str, pt: np.ndarray, deta: np.ndarray, dphi: np.ndarray, mask: np.ndarray,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Index (N, P) that puts real particles in ``name`` order and padded slots last."""
    key = np.asarray(ordering_key(name, pt, deta, dphi, rng), dtype=np.float64)
    key = np.where(mask, key, np.inf)
    return np.argsort(key, axis=1, kind="stable")


def gather(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Reorder ``array`` (N, P, ...) along the particle axis with ``index`` (N, K)."""
    n, p = array.shape[:2]
    k = index.shape[1]
    if k <= p and np.array_equal(index, np.broadcast_to(np.arange(k), index.shape)):
        return array[:, :k]  # already in order (stored files are pT-sorted): a view, no copy
    flat = (index + (np.arange(n) * p)[:, None]).ravel()
    return array.reshape(n * p, *array.shape[2:])[flat].reshape(n, k, *array.shape[2:])
