"""Training harness: the Lightning module over tasks, callbacks and one training run.

``from tagformer.train import train, build_config, load_run`` (imported lazily so the CLI stays fast;
configs live in :mod:`tagformer.config`, run directories and :func:`load_run` in :mod:`tagformer.rundir`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatasetInfo", "LoadedRun", "RunConfig", "build_config", "load_run", "train"]

_WHERE = {
    "DatasetInfo": "tagformer.data.info",
    "train": "tagformer.train.run",
    "LoadedRun": "tagformer.rundir",
    "load_run": "tagformer.rundir",
    "RunConfig": "tagformer.config",
    "build_config": "tagformer.config",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tagformer.train' has no attribute {name!r}")
