"""Training harness: typed configs, the Lightning wrapper, callbacks, runs and :func:`load_run`.

``from tagformer.train import load_run, train, build_config`` (imported lazily so the CLI stays fast).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatasetInfo", "LoadedRun", "RunConfig", "build_config", "load_run", "train"]

_WHERE = {
    "DatasetInfo": "tagformer.data.info",
    "train": "tagformer.train.run",
    "LoadedRun": "tagformer.train.load",
    "load_run": "tagformer.train.load",
    "RunConfig": "tagformer.config",
    "build_config": "tagformer.config",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tagformer.train' has no attribute {name!r}")
