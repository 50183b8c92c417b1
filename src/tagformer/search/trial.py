"""One trial: draw a candidate, build its run config, measure its costs, train it, return its objectives.

Order of work in a trial (``TrialRunner.__call__``):

1. draw the candidate (:func:`tagformer.search.candidate.sample`); a candidate identical to a finished trial
   reuses that trial's results (``duplicate_of``) instead of training again;
2. build its :class:`~tagformer.config.RunConfig` with :func:`tagformer.config.build_config` (the space's
   ``run`` budget, then the parameters);
3. build the model and measure the cost metrics; when the space records an fpga metric, check that the
   hardware path takes the model (:func:`tagformer.search.fpga.check_candidate`; else the trial fails with
   the reason, untrained). A trial that already breaks a cost constraint is not trained unless the space says
   ``train_infeasible: true`` (NSGA-II ranks infeasible trials by their violation only, so their accuracy
   would not be used): its constraints are set from the cost metrics, its accuracy objectives are the worst
   value (-inf / +inf) and it is marked ``trained: false``;
4. train into ``OUT/trials/trial-<origin>`` with :func:`tagformer.train.run.train` (kept; resumed when a
   killed attempt of the same trial left it), with the pruning callback when the harness takes one and no
   objective is an fpga metric (those are known only after training, so no peer could be shown to dominate);
5. read the validation metrics of the run (and R0.8 when asked);
6. the fpga stage (:mod:`tagformer.search.fpga`) when the space records an fpga metric; then every constraint
   (cost and fpga ones alike) is set on the trial and the objective values are returned.

Trial user attributes: ``family``, ``model``, ``label``, ``params`` (active parameters), ``key``, ``origin``,
``run_dir``, ``run_config`` (the validated config, what the Pareto YAMLs are written from), ``metrics``,
``curve``, ``constraints`` (constraint -> relative violation, None when its metric was not measured),
``feasible`` (None: not known, a constrained metric was not measured), ``trained``, ``epochs``,
``wall_time_s``, ``pruned_at``, ``duplicate_of``, ``fpga`` (the fpga stage's record: bits, N, estimate,
``trace_seconds``), and from the worker loop ``worker``, ``heartbeat``, ``error``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.errors import ConfigError, ModelError
from tagformer.search.candidate import Candidate, sample
from tagformer.search.fpga import check_candidate, fpga_metrics
from tagformer.search.objectives import METRICS, RejectionUndefined, eval_metrics, train_metrics
from tagformer.search.pruning import Peer, PruningCallback, harness_takes_callbacks, should_prune
from tagformer.search.runs import measure_costs, read_curve, train_or_resume
from tagformer.search.space import SearchSpace
from tagformer.search.study import CandidateError, origin

if TYPE_CHECKING:
    import optuna

TRIALS_DIR = "trials"


def trial_dir(out_dir: Path, number: int) -> Path:
    """``OUT/trials/trial-0007``: the run directory of the trial whose first attempt was number 7."""
    return Path(out_dir) / TRIALS_DIR / f"trial-{number:04d}"


@dataclass(frozen=True)
class TrialRunner:
    """The objective function of a search (callable on an Optuna trial).

    Attributes
    ----------
    space : the search space.
    data : the dataset path (absolute, as the run configs store it).
    out_dir : the search's output directory (trial run directories go below it).
    prune : use the pruning callback (None: whenever the space enables pruning and the harness takes it).
    """

    space: SearchSpace
    data: str
    out_dir: Path
    prune: bool | None = None

    def __call__(self, trial: optuna.Trial) -> list[float]:
        import optuna

        cand = sample(self.space, trial)
        run_dir = trial_dir(self.out_dir, origin(trial))
        attrs = {"family": cand.family, "model": cand.model, "label": cand.label(), "params": cand.params,
                 "key": cand.key, "origin": origin(trial), "run_dir": str(run_dir)}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        twin = self._finished_twin(trial, cand)
        if twin is not None:
            return self._reuse(trial, twin)
        try:
            cfg = cand.config(self.data, self.space.run)
        except ConfigError as exc:  # a value inside the ranges that the run config refuses
            raise CandidateError(f"{cand.label()}: {exc}") from exc
        trial.set_user_attr("run_config", cfg.to_dict())
        names = self.space.metric_names
        costs = measure_costs(cfg, names, self.space.measure, cand.label())
        if self.space.fpga_metrics:
            check_candidate(cfg, cand.label())  # a variant the hardware path refuses: fail before training
        if not self._feasible(costs) and not self.space.train_infeasible:
            return self._finish(trial, costs, trained=False)
        callback = self._callback(trial, costs)
        summary = train_or_resume(cfg, run_dir, [callback] if callback else [])
        metrics = {**costs, **train_metrics(summary, names)}
        trial.set_user_attr("curve", read_curve(run_dir, self.space.pruning.monitor))
        trial.set_user_attr("epochs", summary.get("epochs_completed"))
        trial.set_user_attr("wall_time_s", summary.get("wall_time_s"))
        if callback is not None and callback.pruned_at is not None:
            trial.set_user_attr("pruned_at", callback.pruned_at)
            self._finish(trial, metrics, trained=True)
            raise optuna.TrialPruned(f"pruned after epoch {callback.pruned_at}")
        try:
            metrics.update(eval_metrics(run_dir, names))
        except RejectionUndefined as exc:
            raise CandidateError(str(exc)) from exc
        metrics.update(self._fpga(trial, run_dir, metrics))
        return self._finish(trial, metrics, trained=True)

    def _fpga(self, trial: optuna.Trial, run_dir: Path, known: dict[str, float]) -> dict[str, float]:
        """The fpga stage (when the space records an fpga metric); its record goes to the ``fpga`` attribute."""
        if not self.space.fpga_metrics:
            return {}
        try:
            values, record = fpga_metrics(run_dir, self.space.fpga_metrics, self.space.fpga)
        except (ModelError, RuntimeError, ValueError) as exc:  # the variant or da4ml refuses this circuit
            trial.set_user_attr("metrics", {k: float(v) for k, v in known.items()})
            raise CandidateError(f"fpga stage: {exc}") from exc
        trial.set_user_attr("fpga", record)
        return values

    # -- constraints and values ---------------------------------------------------------------------------
    def _feasible(self, metrics: dict[str, float]) -> bool:
        return all(c.satisfied(metrics[c.metric]) for c in self.space.constraints if c.metric in metrics)

    def _finish(self, trial: optuna.Trial, metrics: dict[str, float], trained: bool) -> list[float]:
        """Set constraints and result attributes; the objective values (worst value for unknown ones).

        Called once per trial, when every metric it will get is known: cost constraints before training for a
        trial that is not trained, otherwise after the last stage (``fpga`` constraints included). A
        constraint whose metric was not measured (a trial refused or pruned before the fpga stage) counts 0
        for Optuna and makes ``feasible`` None (unknown) unless another constraint is broken.
        """
        violations = {c.text: (c.violation(metrics[c.metric]) if c.metric in metrics else None)
                      for c in self.space.constraints}
        for text, value in violations.items():
            trial.set_constraint(text, 0.0 if value is None else value)
        trial.set_user_attr("constraints", violations)
        known = [v for v in violations.values() if v is not None]
        feasible = False if any(v > 0 for v in known) else (None if len(known) < len(violations) else True)
        trial.set_user_attr("feasible", feasible)
        trial.set_user_attr("trained", trained)
        trial.set_user_attr("metrics", {k: float(v) for k, v in metrics.items()})
        return [metrics[o] if o in metrics else (-math.inf if METRICS[o].maximize else math.inf)
                for o in self.space.objectives]

    # -- duplicates -----------------------------------------------------------------------------------------
    def _finished_twin(self, trial: optuna.Trial, cand: Candidate) -> optuna.trial.FrozenTrial | None:
        from optuna.trial import TrialState

        for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.number != trial.number and t.user_attrs.get("key") == cand.key and "metrics" in t.user_attrs:
                return t
        return None

    def _reuse(self, trial: optuna.Trial, twin: optuna.trial.FrozenTrial) -> list[float]:
        """Copy a finished identical trial's results (no second training of the same candidate)."""
        trial.set_user_attr("duplicate_of", twin.number)
        for key in ("run_dir", "run_config", "curve", "epochs", "wall_time_s", "fpga"):
            if key in twin.user_attrs:
                trial.set_user_attr(key, twin.user_attrs[key])
        return self._finish(trial, dict(twin.user_attrs["metrics"]), trained=bool(twin.user_attrs.get("trained")))

    # -- pruning ------------------------------------------------------------------------------------------
    def _callback(self, trial: optuna.Trial, costs: dict[str, float]) -> PruningCallback | None:
        settings = self.space.pruning
        wanted = settings.enabled if self.prune is None else self.prune
        if any(METRICS[o].stage == "fpga" for o in self.space.objectives):
            return None  # an fpga objective is known only after training: no peer can be shown to dominate
        if not wanted or not harness_takes_callbacks():
            return None
        cost_dirs = {o: METRICS[o].maximize for o in self.space.objectives if METRICS[o].stage == "cost"}
        study = trial.study

        def decide(epoch: int, value: float) -> bool:
            return should_prune(epoch, value, costs, finished_peers(study, settings.monitor),
                                warmup_epochs=settings.warmup_epochs, dominated_by=settings.dominated_by,
                                maximize_monitor=settings.monitor == "val_acc", cost_directions=cost_dirs)

        return PruningCallback(settings.monitor, decide)


def finished_peers(study: optuna.Study, monitor: str) -> list[Peer]:
    """The finished trials (complete or pruned) with a recorded curve, as the pruning rule sees them."""
    from optuna.trial import TrialState

    peers = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        curve: dict[str, Any] = t.user_attrs.get("curve") or {}
        if curve and not t.user_attrs.get("duplicate_of"):
            peers.append(Peer({int(k): float(v) for k, v in curve.items()}, dict(t.user_attrs.get("metrics") or {})))
    return peers
