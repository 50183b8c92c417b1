"""A candidate architecture: what one trial trains, drawn from a space and turned into a run config.

Every trial draws *every* parameter of *every* family (one fixed genome), then uses the genes of the family
it drew. NSGA-II crosses over and mutates whole genomes, so a family that drops out of the population can
come back with its own parameters, and a killed trial's genome can be replayed exactly. Only the active
parameters decide the run (:attr:`Candidate.params`); two trials with the same active parameters are the same
candidate (:attr:`Candidate.key`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tagformer.search.space import Family, SearchSpace

if TYPE_CHECKING:
    import optuna

    from tagformer.config import RunConfig

FAMILY_GENE = "family"


@dataclass(frozen=True)
class Candidate:
    """One point of a space.

    Attributes
    ----------
    family : the family label.
    model : the model or preset the arguments override.
    model_args : constructor arguments (``dim``: 16, ...).
    run_args : dotted run-config keys (``data.num_particles``: 32, ...), shared and family ones.
    """

    family: str
    model: str
    model_args: Mapping[str, Any] = field(default_factory=dict)
    run_args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        """The active parameters, constructor arguments first."""
        return {**self.model_args, **self.run_args}

    @property
    def key(self) -> str:
        """Identity of the candidate (family, model and active parameters)."""
        return json.dumps([self.family, self.model, self.params], sort_keys=True)

    def label(self) -> str:
        """``phat(dim=16, depth=2, data.num_particles=32)``."""
        inner = ", ".join(f"{k}={_short(v)}" for k, v in self.params.items())
        return f"{self.family}({inner})"

    def overrides(self, run: Mapping[str, Any]) -> list[str]:
        """Dotted ``key=value`` overrides of :func:`tagformer.config.build_config`: the space's ``run`` fragment,
        then the run-config parameters, then the model arguments (later ones win)."""
        model = ((f"model.{k}", v) for k, v in self.model_args.items())
        items = [*flatten(run).items(), *self.run_args.items(), *model]
        return [f"{k}={json.dumps(v)}" for k, v in items]

    def config(self, data: str, run: Mapping[str, Any]) -> RunConfig:
        """The validated run config of this candidate on ``data`` (ConfigError for a bad value)."""
        from tagformer.config import build_config

        return build_config(model=self.model, data=data, overrides=self.overrides(run))


def _short(value: Any) -> str:
    return json.dumps(value).replace(" ", "") if not isinstance(value, str) else value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"trainer": {"max_epochs": 3}}`` -> ``{"trainer.max_epochs": 3}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def sample(space: SearchSpace, trial: optuna.trial.BaseTrial) -> Candidate:
    """Draw the whole genome of ``space`` from ``trial`` and return the candidate of the family it chose."""
    chosen = trial.suggest_categorical(FAMILY_GENE, [f.name for f in space.families])
    active: dict[str, Any] = {}
    for fam in space.families:
        for spec in fam.params:
            value = spec.suggest(trial, fam.gene(spec))
            if fam.name == chosen:
                active[spec.name] = value
    shared = {spec.name: spec.suggest(trial, spec.name) for spec in space.shared}
    return candidate_of(space.family(chosen), active, shared)


def corners(space: SearchSpace) -> Iterable[Candidate]:
    """Per family, the candidate with every parameter at its first extreme and the one with all at the last
    (what validation builds a config for before anything trains)."""
    for fam in space.families:
        for i in (0, -1):
            active = {spec.name: spec.corners()[i] for spec in fam.params}
            shared = {spec.name: spec.corners()[i] for spec in space.shared}
            yield candidate_of(fam, active, shared)


def variations(space: SearchSpace) -> Iterable[Candidate]:
    """The corners, then per family every value of every choice parameter that no corner takes (the other
    parameters at their first extreme): each choice value is built at least once."""
    yield from corners(space)
    for fam in space.families:
        first = {spec.name: spec.corners()[0] for spec in fam.params}
        shared = {spec.name: spec.corners()[0] for spec in space.shared}
        for spec in fam.params:
            for value in spec.choices[1:-1] if spec.kind == "choice" else ():
                yield candidate_of(fam, {**first, spec.name: value}, shared)


def candidate_of(fam: Family, active: Mapping[str, Any], shared: Mapping[str, Any]) -> Candidate:
    """The candidate of family ``fam`` with its parameters ``active`` and the shared ones ``shared``."""
    model_args = {k: v for k, v in active.items() if "." not in k and k != "seed"}
    run_args = {**shared, **{k: v for k, v in active.items() if k not in model_args}}
    return Candidate(fam.name, fam.model, model_args, run_args)
