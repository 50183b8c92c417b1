"""Hand-made presets trained at the search's budget, so the report can place them next to the Pareto front.

Each reference (``references:`` in the space) is trained exactly like a trial (the space's ``run`` budget on
the same data, costs measured the same way, the fpga stage too when the space records an fpga metric and the
preset has a hardware variant, no searched parameter applied) into ``OUT/references/<preset>``,
and its metrics are stored in the study (user attribute ``reference:<preset>``), so ``--report`` draws them
from the storage like the trials. A reference already stored is not trained again; one killed mid-training
resumes from its run directory. Only the launching process of a search trains references (extra nodes
joining the study pass ``--no-references``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.errors import ModelError
from tagformer.search.candidate import Candidate
from tagformer.search.fpga import fpga_metrics
from tagformer.search.objectives import RejectionUndefined, eval_metrics, train_metrics
from tagformer.search.runs import measure_costs, train_or_resume
from tagformer.search.space import SearchSpace
from tagformer.search.study import CandidateError

if TYPE_CHECKING:
    import optuna

REFERENCES_DIR = "references"
PREFIX = "reference:"


def reference_dir(out_dir: Path, preset: str) -> Path:
    return Path(out_dir) / REFERENCES_DIR / preset


def stored_references(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """Preset -> stored result (``metrics``, ``run_dir``, ``run_config`` or ``error``)."""
    return {k.removeprefix(PREFIX): v for k, v in study.user_attrs.items() if k.startswith(PREFIX)}


def train_references(space: SearchSpace, data: str, out_dir: Path, study: optuna.Study,
                     log: Callable[[str], Any] = print) -> None:
    """Train and measure every reference of ``space`` not yet stored in ``study``."""
    done = stored_references(study)
    for preset in space.references:
        if preset in done:
            continue
        run_dir = reference_dir(out_dir, preset)
        cand = Candidate(preset, preset)
        result: dict[str, Any] = {"run_dir": str(run_dir)}
        try:
            cfg = cand.config(data, space.run)
            result["run_config"] = cfg.to_dict()
            metrics = measure_costs(cfg, space.metric_names, space.measure, preset)
            summary = train_or_resume(cfg, run_dir)
            metrics.update(train_metrics(summary, space.metric_names))
            metrics.update(eval_metrics(run_dir, space.metric_names))
            result["metrics"] = metrics
            metrics.update(_fpga(run_dir, space, result))
            result["feasible"] = reference_feasible(space, metrics)
        except (CandidateError, RejectionUndefined) as exc:
            result["error"] = str(exc)
        study.set_user_attr(f"{PREFIX}{preset}", result)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result.get("metrics", {}).items())
        why = f" (no fpga metrics: {result['fpga_error']})" if "fpga_error" in result else ""
        log(f"reference {preset}: {shown or result.get('error')}{why}")


def _fpga(run_dir: Path, space: SearchSpace, result: dict[str, Any]) -> dict[str, float]:
    """The fpga metrics of a reference (record in ``result["fpga"]``); a preset the hardware path refuses
    (e.g. ``salt`` with its rank partition rule) keeps its other metrics and says why in ``fpga_error``."""
    if not space.fpga_metrics:
        return {}
    try:
        values, record = fpga_metrics(run_dir, space.fpga_metrics, space.fpga)
    except (ModelError, RuntimeError, ValueError) as exc:
        result["fpga_error"] = str(exc)
        return {}
    result["fpga"] = record
    return values


def reference_feasible(space: SearchSpace, metrics: dict[str, float]) -> bool | None:
    """False if a measured metric breaks a constraint, None if a constrained metric is missing, else True."""
    known = [c.satisfied(metrics[c.metric]) for c in space.constraints if c.metric in metrics]
    if not all(known):
        return False
    return True if len(known) == len(space.constraints) else None
