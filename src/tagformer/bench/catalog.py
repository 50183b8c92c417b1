"""A catalogue of the zoo: one row per preset with its parameter count and declared capabilities."""

from __future__ import annotations

import fnmatch
import importlib.util
from dataclasses import dataclass

from tagformer.bench.flops import count_params
from tagformer.errors import ModelError
from tagformer.models.registry import create_model, list_entries, list_models, list_presets


@dataclass(frozen=True)
class CatalogRow:
    model: str
    preset: str
    params: int | None  # None when an optional package is missing
    capabilities: str
    paper: str
    note: str = ""


def describe_capabilities(caps: object) -> str:
    """Short human-readable summary of a :class:`~tagformer.models.registry.Capabilities`."""
    flags = []
    flags.append("perm-inv" if caps.permutation_invariant else "order:" + str(caps.order_dependent or "yes"))
    if caps.needs_pairs:
        flags.append("pairs")
    if caps.needs_p4:
        flags.append("p4")
    if caps.lorentz_equivariant:
        flags.append("lorentz")
    flags.append("onnx" if caps.onnx_exportable else "no-onnx")
    if caps.requires:
        flags.append("needs " + "+".join(caps.requires))
    return ", ".join(flags)


def catalog(
    pattern: str = "*", in_features: int = 3, num_classes: int = 5, num_particles: int = 150
) -> list[CatalogRow]:
    """Rows for every preset whose model or preset name matches ``pattern`` (shell-style).

    Raises :class:`ModelError` listing the available names when nothing matches.
    """
    rows = []
    for entry in list_entries():
        for preset in entry.presets:
            if not (fnmatch.fnmatch(entry.name, pattern) or fnmatch.fnmatch(preset, pattern)):
                continue
            missing = [p for p in entry.capabilities.requires if importlib.util.find_spec(p) is None]
            params, note = None, ""
            if missing:
                note = f"needs {', '.join(missing)}"
            else:
                model = create_model(preset, num_classes=num_classes, in_features=in_features,
                                     num_particles=num_particles)
                params = count_params(model)
            rows.append(CatalogRow(entry.name, preset, params, describe_capabilities(entry.capabilities),
                                   entry.paper, note))
    if not rows:
        raise ModelError(
            f"no model or preset matches {pattern!r}; models: {', '.join(list_models())}; "
            f"presets: {', '.join(list_presets())}"
        )
    return rows
