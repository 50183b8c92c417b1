"""The jet picture: particles on the (Δη, Δφ) plane, sized by pT, coloured by C/A subjet, with the
attention links of each module drawn between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tagformer.eval.explain.data import JetGeometry
from tagformer.eval.explain.plots import save, style

#: Links with a head-averaged weight below this (or below twice uniform attention) are not drawn.
LINK_THRESHOLD = 0.1


def jet_picture(geometry: JetGeometry, jet: int, subjets: np.ndarray | None,
                panels: dict[str, tuple[np.ndarray | None, np.ndarray | None]], path: Path,
                title: str = "") -> Path:
    """One panel per module: ``panels`` maps a title to (head-averaged (N, N) effective map or None,
    (N,) attention received or None). Lines join query and key particles whose weight is at least
    ``max(LINK_THRESHOLD, 2 / particles)`` (width and opacity grow with it); open circles mark the attention
    each particle receives when there is no map (e.g. from a class token)."""
    real = np.flatnonzero(geometry.mask[jet])
    x, y, pt = geometry.deta[jet], geometry.dphi[jet], geometry.pt[jet]
    size = 15 + 250 * pt / max(float(pt[real].max()) if real.size else 1.0, 1e-9)
    colours = np.full(len(x), -1) if subjets is None else subjets
    count = max(len(panels), 1)
    threshold = max(LINK_THRESHOLD, 2.0 / max(real.size, 1))
    with style() as plt:
        cmap = plt.get_cmap("tab10")
        fig, axes = plt.subplots(1, count, figsize=(4.2 * count + 0.5, 4.6), squeeze=False)
        for ax, (name, (matrix, received)) in zip(axes[0], panels.items()):
            if matrix is not None:
                for i in real:
                    for j in real:
                        w = float(matrix[i, j])
                        if i != j and w >= threshold:
                            ax.plot([x[i], x[j]], [y[i], y[j]], color="black", lw=0.4 + 2.5 * w,
                                    alpha=min(1.0, 0.2 + 0.8 * w), zorder=1)
            face = [cmap(int(c) % 10) if c >= 0 else (0.6, 0.6, 0.6, 1.0) for c in colours[real]]
            ax.scatter(x[real], y[real], s=size[real], c=face, edgecolors="none", alpha=0.85, zorder=2)
            if matrix is None and received is not None:
                top = max(float(received[real].max()), 1e-9)
                ax.scatter(x[real], y[real], s=40 + 600 * received[real] / top, facecolors="none",
                           edgecolors="black", linewidths=1.0, zorder=3)
            ax.set_title(name, fontsize=10)
            ax.set_xlabel(r"$\Delta\eta$", fontsize=11)
            ax.set_ylabel(r"$\Delta\phi$", fontsize=11)
            ax.tick_params(labelsize=8)
            ax.set_aspect("equal", adjustable="datalim")
        if subjets is not None:
            for c in sorted({int(v) for v in colours[real]}):
                axes[0][-1].scatter([], [], color=cmap(c % 10), label=f"subjet {c}")
            axes[0][-1].legend(fontsize=8, loc="upper right", frameon=False)
        return save(plt, fig, path, title)
