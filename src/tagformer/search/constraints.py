"""Constraints of a search (``"latency_ms <= 0.1"``) and their Optuna form.

A constraint bounds one metric (:data:`tagformer.search.objectives.METRICS`). Optuna receives it as a
number that is ``<= 0`` when the trial satisfies it (``Trial.set_constraint``): the violation relative to
the bound, ``(value - bound) / |bound|`` for an upper bound and ``(bound - value) / |bound|`` for a lower
one, so violations of different metrics add up on a common scale. NSGA-II then ranks every feasible trial
above every infeasible one and infeasible ones by their total violation (constrained domination): a
constraint is never folded into an objective as a penalty. ``<`` and ``<=`` (``>`` and ``>=``) mean the
same: the bound itself is feasible.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tagformer.errors import ConfigError

_PATTERN = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``; ``upper`` is True for ``<=`` / ``<``."""

    metric: str
    upper: bool
    bound: float

    @property
    def text(self) -> str:
        return f"{self.metric} {'<=' if self.upper else '>='} {self.bound:g}"

    def violation(self, value: float) -> float:
        """Relative violation: ``<= 0`` when ``value`` satisfies the constraint."""
        scale = abs(self.bound) if self.bound else 1.0
        excess = (value - self.bound) if self.upper else (self.bound - value)
        if math.isnan(excess):
            raise ValueError(f"constraint {self.text}: the value is NaN")
        return excess / scale

    def satisfied(self, value: float) -> bool:
        return self.violation(value) <= 0


def parse_constraint(text: str, metrics: tuple[str, ...], where: str) -> Constraint:
    """Read ``"NAME <= NUMBER"`` (or ``>=``, ``<``, ``>``); ConfigError for anything else or an unknown metric."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ConfigError(f"constraint {text!r} in {where} must look like 'METRIC <= NUMBER' or 'METRIC >= NUMBER' "
                          f"(metrics: {', '.join(metrics)})")
    name, op, raw = match.groups()
    if name not in metrics:
        raise ConfigError(f"constraint {text!r} in {where} bounds an unknown metric {name!r}; "
                          f"choose from {', '.join(metrics)}")
    try:
        bound = float(raw)
    except ValueError as exc:
        raise ConfigError(f"constraint {text!r} in {where}: {raw!r} is not a number") from exc
    if not math.isfinite(bound):
        raise ConfigError(f"constraint {text!r} in {where}: the bound must be finite")
    return Constraint(name, op.startswith("<"), bound)
