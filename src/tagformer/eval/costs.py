"""The cost figures of a trained run, under the one convention of :mod:`tagformer.bench.flops`.

A run's ``summary.json`` records ``params`` and ``flops_per_jet`` with the ``flops_convention`` they were
counted under. When that is today's :data:`~tagformer.bench.flops.FLOPS_CONVENTION` (or none is stated)
the figure is used as it is; a run trained under an older convention (e.g. FLOPs counted on the first
validation jets, padding and all) is re-counted from its configuration with
:func:`~tagformer.bench.flops.model_flops_per_jet`, so ``tagformer compare``, ``tagformer profile`` and
new training summaries agree for the same model and N.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagformer.errors import TagformerError
from tagformer.rundir import RunDir


@dataclass(frozen=True)
class RunCost:
    """``flops_per_jet`` of a run and where it came from (``"summary"`` or ``"recounted"``; ``note`` says why)."""

    flops_per_jet: float | None
    source: str
    note: str = ""


def _recount(run: Path) -> float:
    from tagformer.bench.flops import model_flops_per_jet
    from tagformer.config import load_config
    from tagformer.data.info import DatasetInfo
    from tagformer.models.registry import create_model

    paths = RunDir(run)
    config = load_config(paths.config)
    if not paths.dataset.exists():
        raise TagformerError(f"{paths.dataset} is missing")
    info = DatasetInfo.from_dict(json.loads(paths.dataset.read_text()), feature_set=config.data.feature_set,
                                 ordering=config.data.ordering)
    model = create_model(config.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=info.num_particles, **config.model.overrides)
    return model_flops_per_jet(model, in_features=info.in_features, num_particles=info.num_particles)


def run_flops(run: str | Path, summary: dict[str, Any]) -> RunCost:
    """FLOPs per jet of ``run`` under today's convention (see the module docstring)."""
    from tagformer.bench.flops import FLOPS_CONVENTION

    recorded = summary.get("flops_per_jet")
    if summary.get("flops_convention") in (FLOPS_CONVENTION, None):  # today's, or not stated: as recorded
        return RunCost(recorded, "summary")
    try:
        flops = float(_recount(Path(run)))
    except (TagformerError, OSError, ValueError) as exc:
        return RunCost(recorded, "summary", f"{run}: FLOPs from summary.json ({recorded}) follow an older "
                       f"convention and could not be recounted: {exc}")
    same = recorded is not None and abs(flops - float(recorded)) <= 1e-9 * max(abs(flops), 1.0)
    note = "" if same else (f"{run}: FLOPs per jet recounted under today's convention ({FLOPS_CONVENTION}): "
                            f"{flops:.6g} (summary.json: {recorded})")
    return RunCost(flops, "recounted", note)
