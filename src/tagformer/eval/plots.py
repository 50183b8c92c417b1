"""Figures: ROC curves (rejection vs signal efficiency), confusion matrices, cost-vs-performance plots."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.atomic import atomic_path


@contextlib.contextmanager
def _style() -> Iterator[Any]:
    """Headless matplotlib with the mplhep CMS style, restored afterwards."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    try:
        import mplhep

        style: Any = mplhep.style.CMS
    except ImportError:  # pragma: no cover - mplhep is a dependency
        style = "default"
    with plt.style.context(style):
        yield plt


#: PNG "Software" text of every figure tagformer writes (how a command recognises its own earlier output).
SOFTWARE = "tagformer"


def is_own_png(path: Path) -> bool:
    """``path`` is a PNG this module wrote (its ``Software`` text chunk, near the start, names tagformer)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return head.startswith(b"\x89PNG") and b"tEXtSoftware\x00" + SOFTWARE.encode() in head


def _save(plt: Any, fig: Any, ax: Any, path: Path, title: str = "") -> None:
    """Optional title, tight layout, write ``path`` as PNG (100 dpi) and free the figure."""
    if title:
        ax.set_title(title, fontsize=14)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png", metadata={"Software": SOFTWARE})
    finally:
        plt.close(fig)


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = "") -> Path:
    """Background rejection 1/eps_B (log) against signal efficiency eps_S, one line per signal class.

    ``curves`` maps a label (e.g. ``"W vs q+g"``) to ``(eps_S, eps_B)`` arrays.
    """
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(8, 7))
        for label, (tpr, fpr) in curves.items():
            keep = fpr > 0
            ax.plot(tpr[keep], 1.0 / fpr[keep], label=label)
        ax.set_yscale("log")
        ax.set_xlim(0, 1)
        ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=14)
        _save(plt, fig, ax, path, title)
    return path


def plot_confusion(matrix: Sequence[Sequence[float]], class_names: list[str], path: Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (rows = true class, columns = predicted)."""
    m = np.asarray(matrix, dtype=float)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(8, 7))
        im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=12,
                        color="white" if m[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(class_names)), class_names)
        ax.set_yticks(range(len(class_names)), class_names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.minorticks_off()
        fig.colorbar(im, ax=ax, fraction=0.046)
        _save(plt, fig, ax, path, title)
    return path


def pareto_front(cost: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Boolean mask of points not dominated by a cheaper-or-equal point with a higher-or-equal score."""
    cost, score = np.asarray(cost, float), np.asarray(score, float)
    keep = np.ones(len(cost), dtype=bool)
    for i in range(len(cost)):
        dominated = (cost <= cost[i]) & (score >= score[i]) & ((cost < cost[i]) | (score > score[i]))
        keep[i] = not dominated.any()
    return keep


# (dx, dy) in points and alignment: tried in turn until a label overlaps no label placed before it
_LABEL_SPOTS = ((5, 5, "left", "bottom"), (5, -5, "left", "top"), (-5, 5, "right", "bottom"),
                (-5, -5, "right", "top"), (5, 16, "left", "bottom"), (5, -16, "left", "top"))


def _label_points(fig: Any, ax: Any, xs: np.ndarray, ys: np.ndarray, names: list[str]) -> None:
    """Name each point, moving a label to another side of its point when it would cover an earlier one."""
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    for k in np.argsort(-ys):
        for n, (dx, dy, ha, va) in enumerate(_LABEL_SPOTS):
            text = ax.annotate(names[k], (xs[k], ys[k]), textcoords="offset points", xytext=(dx, dy), ha=ha, va=va,
                               fontsize=11)
            box = text.get_window_extent(renderer)
            if n == len(_LABEL_SPOTS) - 1 or not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            text.remove()


def plot_tradeoff(rows: list[dict[str, Any]], x: str, y: str, path: Path, xlabel: str, ylabel: str,
                  yerr: str | None = None, x_is_cost: bool = True) -> Path | None:
    """Scatter ``y`` against ``x`` (log x) for each row (labelled by ``name``); Pareto front as a line.

    ``x_is_cost``: lower x is better (FLOPs, parameters, latency); False for throughput-like x.
    """
    from matplotlib.ticker import NullFormatter

    pts = [r for r in rows if r.get(x) not in (None, "") and r.get(y) not in (None, "")]
    if not pts:
        return None
    xs = np.array([float(r[x]) for r in pts])
    ys = np.array([float(r[y]) for r in pts])
    errs = np.array([float(r.get(yerr) or 0.0) for r in pts]) if yerr else None
    front = pareto_front(xs if x_is_cost else -xs, ys)
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(9, 7))
        ax.errorbar(xs, ys, yerr=errs, fmt="o", ms=8, capsize=3)
        order = np.argsort(xs[front])
        ax.step(xs[front][order], ys[front][order], where="post" if x_is_cost else "pre", color="C3", alpha=0.7,
                label="Pareto front")
        ax.set_xscale("log")
        ax.margins(x=0.06, y=0.08)  # room for the labels of the outermost points
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor tick labels collide on a short log range
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=12)
        fig.tight_layout()  # settle the geometry before measuring label extents
        _label_points(fig, ax, xs, ys, [str(r["name"]) for r in pts])
        _save(plt, fig, ax, path)
    return path
