"""Hand-made presets trained at the search's budget, so the report can place them next to the Pareto front.

Each reference (``references:`` in the space) is trained exactly like a trial (the space's ``run`` budget on
the same data, costs measured the same way, no searched parameter applied) into ``OUT/references/<preset>``,
and its metrics are stored in the study (user attribute ``reference:<preset>``), so ``--report`` draws them
from the storage like the trials. A reference already stored is not trained again; one killed mid-training
resumes from its run directory. Only the launching process of a search trains references (extra nodes
joining the study pass ``--no-references``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.search.candidate import Candidate
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
            result["feasible"] = all(c.satisfied(metrics[c.metric]) for c in space.constraints)
        except (CandidateError, RejectionUndefined) as exc:
            result["error"] = str(exc)
        study.set_user_attr(f"{PREFIX}{preset}", result)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result.get("metrics", {}).items())
        log(f"reference {preset}: {shown or result.get('error')}")
