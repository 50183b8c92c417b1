"""Pareto dominance over several objectives (each maximised or minimised), as plain functions.

``a`` dominates ``b`` when it is at least as good in every objective and strictly better in one. The front
is the set of non-dominated points; points with a non-finite value (an objective that was not measured)
are never on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _at_least(a: float, b: float, maximize: bool) -> bool:
    return a >= b if maximize else a <= b


def dominates(a: Sequence[float], b: Sequence[float], maximize: Sequence[bool]) -> bool:
    """Whether ``a`` dominates ``b``."""
    if not all(_at_least(x, y, up) for x, y, up in zip(a, b, maximize)):
        return False
    return any(x != y for x, y in zip(a, b))


def front(points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the non-dominated points among the finite ones (in input order)."""
    finite = [i for i, p in enumerate(points) if all(math.isfinite(v) for v in p)]
    return [i for i in finite if not any(dominates(points[j], points[i], maximize) for j in finite if j != i)]


def dominating(reference: Sequence[float], points: Sequence[Sequence[float]], maximize: Sequence[bool]) -> list[int]:
    """Indices of the finite ``points`` that dominate ``reference``."""
    return [i for i, p in enumerate(points)
            if all(math.isfinite(v) for v in p) and dominates(p, reference, maximize)]
