"""Data: generation (Pythia 8 + FastJet), readers for community formats, features and loading.

Heavy imports (lightning, torch, uproot) happen on first use of the names exported here.
"""

from __future__ import annotations

import importlib
from typing import Any

# eager (light: numpy only) so that the function, not the submodule, is ``tagformer.data.describe``
from tagformer.data.describe import describe as describe

_EXPORTS = {
    "DataConfig": "tagformer.data.config",
    "DatasetInfo": "tagformer.data.info",
    "JetDataModule": "tagformer.data.datamodule",
    "JetBatch": "tagformer.data.batch",
    "JetArrays": "tagformer.data.formats.base",
    "FORMATS": "tagformer.data.formats",
    "read_files": "tagformer.data.formats",
    "resolve_files": "tagformer.data.formats",
    "detect_format": "tagformer.data.formats",
    "FEATURE_SETS": "tagformer.data.features",
    "feature_names": "tagformer.data.features",
    "compute_features": "tagformer.data.features",
    "ORDERINGS": "tagformer.data.orderings",
    "Normaliser": "tagformer.data.normalise",
    "prepare": "tagformer.data.pipeline",
    "TruncationStats": "tagformer.data.pipeline",
    "collate_jets": "tagformer.data.collate",
}

__all__ = sorted([*_EXPORTS, "describe"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tagformer.data' has no attribute {name!r}")
