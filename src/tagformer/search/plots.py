"""2-D views of a search: one objective against another, trials coloured by family, the Pareto trials
ringed, the 2-D front as a step line, and the reference presets as labelled stars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tagformer.atomic import atomic_path
from tagformer.search.pareto import front

_LOG_AXES = {"flops", "params", "latency_ms", "throughput", "fpga_lut"}


def _values(rows: Sequence[Mapping[str, Any]], x: str, y: str) -> list[tuple[float, float, Mapping[str, Any]]]:
    out = []
    for r in rows:
        m = r.get("metrics") or {}
        if x in m and y in m and math.isfinite(m[x]) and math.isfinite(m[y]):
            out.append((float(m[x]), float(m[y]), r))
    return out


def plot_front(rows: Sequence[Mapping[str, Any]], references: Mapping[str, Mapping[str, Any]], x: str, y: str, *,
               maximize_x: bool, maximize_y: bool, xlabel: str, ylabel: str, path: Path, title: str = "") -> Path:
    """Scatter ``y`` against ``x`` for the trained trials of ``rows`` and the ``references``; write ``path``.

    ``rows`` are report rows (``metrics``, ``family``, ``state``, ``feasible``, ``trained``, ``pareto``);
    pruned and infeasible trials are drawn faintly, the trials on the full Pareto front are ringed.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    trained = [r for r in rows if r.get("trained") and not r.get("duplicate_of")]
    points = _values(trained, x, y)
    families = sorted({r["family"] for _, _, r in points})
    colours = {f: plt.get_cmap("tab10")(i % 10) for i, f in enumerate(families)}
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    for fam in families:
        mine = [(a, b, r["state"] == "complete" and bool(r.get("feasible")))
                for a, b, r in points if r["family"] == fam]
        good = [(a, b) for a, b, ok in mine if ok]
        weak = [(a, b) for a, b, ok in mine if not ok]
        if good:
            ax.scatter(*zip(*good), s=28, color=colours[fam], label=fam, zorder=3)
        if weak:
            ax.scatter(*zip(*weak), s=22, facecolors="none", edgecolors=colours[fam], alpha=0.6, zorder=2,
                       label=None if good else f"{fam} (pruned/infeasible)")
    ringed = [(a, b) for a, b, r in points if r.get("pareto")]
    if ringed:
        ax.scatter(*zip(*ringed), s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=4,
                   label="Pareto (all objectives)")
    feasible = [(a, b) for a, b, r in points if r["state"] == "complete" and r.get("feasible")]
    if feasible:
        idx = front([list(p) for p in feasible], [maximize_x, maximize_y])
        line = sorted((feasible[i] for i in idx), key=lambda p: p[0])
        ax.step([p[0] for p in line], [p[1] for p in line], where="post", color="black", lw=1, alpha=0.7, zorder=1,
                label="2-D front")
    refs = _values([{**v, "name": k} for k, v in references.items()], x, y)
    for a, b, r in refs:
        ax.scatter([a], [b], marker="*", s=220, color="crimson", edgecolors="black", zorder=5)
        ax.annotate(r["name"], (a, b), textcoords="offset points", xytext=(6, 6), fontsize=9, color="crimson")
    if refs:
        ax.scatter([], [], marker="*", s=120, color="crimson", edgecolors="black", label="presets, same budget")
    every = [p[0] for p in points] + [p[0] for p in refs]
    if x in _LOG_AXES and every and min(every) > 0:
        ax.set_xscale("log")
    ys = [p[1] for p in points] + [p[1] for p in refs]
    if y in _LOG_AXES and ys and min(ys) > 0:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel + (" (better: higher)" if maximize_x else " (better: lower)"))
    ax.set_ylabel(ylabel + (" (better: higher)" if maximize_y else " (better: lower)"))
    ax.grid(alpha=0.3)
    if points or refs:
        ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return path
