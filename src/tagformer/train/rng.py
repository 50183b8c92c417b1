"""The global random generators' states, saved in every checkpoint and restored on resume.

Dropout and the data loader's per-epoch base seed draw from torch's global generator; numpy's and
Python's global generators are kept too for code that uses them. Restoring them makes a run resumed at an
epoch boundary draw the same random numbers as an uninterrupted one. States are tensors and plain Python
values only, so checkpoints still load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def rng_state() -> dict[str, Any]:
    """The torch (CPU and every CUDA device), numpy and Python generators' states."""
    kind, key, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]  # noqa: NPY002
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (parts that are missing are left as they are)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        n = state["numpy"]
        key = np.asarray(n["key"].numpy() if isinstance(n["key"], torch.Tensor) else n["key"], dtype=np.uint32)
        np.random.set_state((n["kind"], key, int(n["pos"]), int(n["has_gauss"]), float(n["cached_gaussian"])))  # noqa: NPY002
    if "python" in state:
        p = state["python"]
        random.setstate((int(p["version"]), tuple(p["internal"]), p["gauss"]))
