"""On-disk cache of fetched listings and LLM answers: one JSON file per key (sha256 of the key text)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tagformer.atomic import atomic_write_json


def user_cache_dir(env_var: str, leaf: str) -> Path:
    """``$<env_var>``, else ``$XDG_CACHE_HOME/tagformer/<leaf>`` (``~/.cache/...``)."""
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tagformer" / leaf


def default_cache_dir() -> Path:
    """``$TAGFORMER_ASSIST_CACHE``, else ``$XDG_CACHE_HOME/tagformer/assist`` (``~/.cache/...``)."""
    return user_cache_dir("TAGFORMER_ASSIST_CACHE", "assist")


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class DiskCache:
    """``get(kind, key)`` / ``put(kind, key, value)`` of JSON values under ``root/kind/``; ``root=None`` is
    a cache that stores nothing."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    def _path(self, kind: str, key: str) -> Path | None:
        if self.root is None:
            return None
        return self.root / kind / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def get(self, kind: str, key: str) -> Any | None:
        """The cached value, or None when absent or unreadable."""
        path = self._path(kind, key)
        if path is None or not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["value"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) atomically."""
        path = self._path(kind, key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"key": key, "value": value})
