"""What to profile: registered models or presets matched by name patterns, with optional argument overrides."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tagformer.errors import ModelError


def configuration_name(preset: str, overrides: Mapping[str, Any] | None = None) -> str:
    """``preset`` or ``preset(key=value,...)`` (sorted keys): the name of one model configuration.

    ``tagformer compare`` groups runs by this name and matches profile rows with it.
    """
    extra = dict(overrides or {})
    if not extra:
        return preset
    return preset + "(" + ",".join(f"{k}={v}" for k, v in sorted(extra.items())) + ")"


@dataclass(frozen=True)
class Target:
    """One model configuration to build: registered ``model``, ``preset`` and constructor ``overrides``."""

    model: str
    preset: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return configuration_name(self.preset, self.overrides)


def resolve_targets(patterns: str | Sequence[str]) -> list[tuple[str, str]]:
    """``(model, preset)`` pairs matching comma-separated shell-style patterns.

    A pattern matching a preset name selects that preset; one matching a model name selects the model's
    default preset. Raises :class:`ModelError` if a pattern matches nothing.
    """
    from tagformer.models import list_entries

    items = [p.strip() for p in (patterns.split(",") if isinstance(patterns, str) else patterns)]
    items = [p for p in items if p]
    if not items:
        raise ModelError("no model pattern given (e.g. --models 'phat*,salt')")
    entries = list_entries()
    found: list[tuple[str, str]] = []
    for pattern in items:
        hits = [(e.name, e.default) for e in entries if fnmatch.fnmatch(e.name, pattern)]
        hits += [(e.name, p) for e in entries for p in e.presets if fnmatch.fnmatch(p, pattern)]
        if not hits:
            names = ", ".join(e.name for e in entries) or "(none registered)"
            raise ModelError(f"no model or preset matches {pattern!r}; models: {names}")
        for hit in hits:
            if hit not in found:
                found.append(hit)
    return found
