"""``--set KEY=VALUE`` constructor overrides, parsed like ``tagformer train``'s dotted overrides."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tagformer.errors import ConfigError


def parse_set(items: Iterable[str], flag: str = "--set") -> dict[str, Any]:
    """``["dim=32", "dropout=1e-1"]`` -> ``{"dim": 32, "dropout": 0.1}``.

    Values are read by :func:`tagformer.config.parse_overrides` (YAML, and numbers such as ``1e-4`` are
    numbers), so a value means the same here as in ``tagformer train model.KEY=VALUE``.
    """
    from tagformer.config import parse_overrides

    items = list(items)
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip() or "." in key:
            raise ConfigError(f"{flag} expects KEY=VALUE with a constructor argument as KEY (e.g. dim=32), "
                              f"got {item!r}")
    return {key.strip(): value for key, value in parse_overrides(items).items()}
