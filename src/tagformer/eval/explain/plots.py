"""Figure helpers and heat-map grids of attention maps (matplotlib with the mplhep CMS style, headless)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def style() -> Iterator[Any]:
    """``matplotlib.pyplot`` on the Agg backend with the mplhep CMS style (smaller fonts: these figures hold
    many panels), restored afterwards."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import mplhep

    smaller = {"xtick.labelsize": 11, "ytick.labelsize": 11, "axes.labelsize": 12, "legend.fontsize": 10}
    with plt.style.context([mplhep.style.CMS, smaller]):
        yield plt


def save(plt: Any, fig: Any, path: Path, title: str = "") -> Path:
    """Write ``fig`` to ``path`` (PNG, 100 dpi) with an optional suptitle, and free it."""
    if title:
        fig.suptitle(title, fontsize=14)
    try:
        fig.savefig(path, dpi=100, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def slug(name: str) -> str:
    """A file-name-safe form of a module name."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "model"


def heatmap_grid(panels: Sequence[Sequence[np.ndarray | None]], row_labels: Sequence[str],
                 col_labels: Sequence[str], path: Path, title: str = "", xlabel: str = "key",
                 ylabel: str = "query", signed: bool = False, vmax: float | None = None,
                 label: str = "attention weight") -> Path:
    """A rows x columns grid of matrices with one colour scale (NaN = no jet had that pair).

    ``signed`` uses a diverging scale symmetric around 0 (for effective maps that are not distributions);
    ``label`` names the colour scale.
    """
    from matplotlib.ticker import MaxNLocator

    rows, cols = len(panels), max(len(r) for r in panels)
    values = [p[np.isfinite(p)] for r in panels for p in r if p is not None and np.isfinite(p).any()]
    top = vmax if vmax is not None else max([float(np.abs(v).max()) for v in values] + [1e-12])
    cmap, vmin = ("RdBu_r", -top) if signed else ("viridis", 0.0)
    with style() as plt:
        fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols + 1.2, 2.3 * rows + 0.8), squeeze=False)
        image = None
        for r in range(rows):
            for c in range(cols):
                ax = axes[r][c]
                panel = panels[r][c] if c < len(panels[r]) else None
                if panel is None:
                    ax.axis("off")
                    continue
                image = ax.imshow(panel, cmap=cmap, vmin=vmin, vmax=top, interpolation="nearest", aspect="auto")
                ax.minorticks_off()
                ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.tick_params(labelsize=8, length=2, top=False, right=False)
                if r == 0:
                    ax.set_title(col_labels[c], fontsize=11)
                if c == 0:
                    ax.set_ylabel(f"{row_labels[r]}\n{ylabel}", fontsize=10)
                if r == rows - 1:
                    ax.set_xlabel(xlabel, fontsize=10)
        if image is not None:
            bar = fig.colorbar(image, ax=axes, shrink=0.8)
            bar.set_label(label, fontsize=12)
            bar.ax.tick_params(labelsize=10)
        return save(plt, fig, path, title)

