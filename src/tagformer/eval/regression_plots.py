"""Figures of a regression head: predicted vs true (2D), response per class against the soft-drop mass,
resolution vs true mass, and the background mass before/after a tagger cut (sculpting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.eval.plots import _save, _style
from tagformer.eval.regression import response

#: Axis labels of the sculpting masses.
MASS_LABELS = {"regressed": "regressed mass", "sdmass": "reco soft-drop mass"}
#: File name stems of the figures :func:`write_regression_plots` writes, ``<stem>_<head>.png``.
STEMS = ("pred_vs_true", "response", "resolution_vs_mass", "sculpting")


def plot_paths(out: Path, head: str) -> list[Path]:
    """Every figure :func:`write_regression_plots` may write for ``head`` in ``out``."""
    return [Path(out) / f"{stem}_{head}.png" for stem in STEMS]


def plot_pred_vs_true(pred: np.ndarray, true: np.ndarray, path: Path, label: str = "mass", title: str = "") -> Path:
    """2D histogram of predicted against true values (log colour scale), with the diagonal."""
    from matplotlib.colors import LogNorm

    keep = np.isfinite(pred) & np.isfinite(true)
    p, t = pred[keep], true[keep]
    hi = float(np.quantile(np.concatenate([p, t]), 0.995)) if keep.any() else 1.0
    hi = hi if hi > 0 else 1.0
    with _style() as plt:
        fig, ax = plt.subplots(figsize=(8, 7))
        if keep.any():
            _, _, _, im = ax.hist2d(t, p, bins=60, range=[[0, hi], [0, hi]], norm=LogNorm(), cmap="viridis")
            fig.colorbar(im, ax=ax, label="jets")
        ax.plot([0, hi], [0, hi], color="red", lw=1, ls="--")
        ax.set_xlabel(f"true {label} [GeV]")
        ax.set_ylabel(f"predicted {label} [GeV]")
        _save(plt, fig, ax, path, title)
    return path


def plot_responses(pred: np.ndarray, true: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   path: Path, baseline: np.ndarray | None = None, title: str = "") -> Path:
    """Response (pred / true) distribution per class: the regression (solid) against the soft-drop mass
    (dashed), each normalised to unit area."""
    bins = np.linspace(0.0, 2.0, 61)
    n = len(class_names)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    with _style() as plt:
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.2 * rows), squeeze=False)
        for c, name in enumerate(class_names):
            ax = axes[c // cols][c % cols]
            sel = labels == c
            for values, style, what in ((pred, "-", "regressed"), (baseline, "--", "soft drop")):
                if values is None:
                    continue
                r = response(values[sel], true[sel])
                if r.size:
                    ax.hist(np.clip(r, bins[0], bins[-1]), bins=bins, histtype="step", ls=style, density=True,
                            label=what, lw=1.5)
            ax.axvline(1.0, color="gray", lw=0.8)
            ax.set_title(str(name), fontsize=14)
            ax.set_xlabel("predicted / true", fontsize=14)
            ax.legend(fontsize=11)
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        if title:
            fig.suptitle(title, fontsize=14)
        _save(plt, fig, axes[0][0], path, "")
    return path


def plot_resolution_vs_mass(report: Mapping[str, Any], path: Path, title: str = "") -> Path:
    """Median response and resolution in bins of the true mass: regression against the soft-drop baseline."""
    with _style() as plt:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
        for key, marker, what in (("regressed", "o", "regressed"), ("baseline", "s", "soft drop")):
            part = report.get(key)
            if not part:
                continue
            binned = part["vs_true_mass"]
            edges = np.asarray(binned["edges"])
            centres = (edges[:-1] + edges[1:]) / 2
            med = np.array([b["median"] if b["median"] is not None else np.nan for b in binned["bins"]])
            res = np.array([b["resolution"] if b["resolution"] is not None else np.nan for b in binned["bins"]])
            top.plot(centres, med, marker=marker, label=what)
            bottom.plot(centres, res, marker=marker, label=what)
        top.axhline(1.0, color="gray", lw=0.8)
        top.set_ylabel("median response")
        bottom.set_ylabel("resolution")
        bottom.set_xlabel("true mass [GeV]")
        top.legend(fontsize=12)
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        _save(plt, fig, top, path, title)
    return path


def plot_sculpting(sculpt: Mapping[str, Any], path: Path, title: str = "") -> Path | None:
    """Background mass distributions (unit area) before and after the cut at eps_S, one column per signal,
    one row per mass (regressed, soft drop); the JSD in each legend."""
    signals = list((sculpt or {}).get("by_signal") or {})
    if not signals:
        return None
    labels = list(sculpt["by_signal"][signals[0]]["masses"])
    edges = np.asarray(sculpt["edges"])
    with _style() as plt:
        fig, axes = plt.subplots(len(labels), len(signals), figsize=(5 * len(signals), 4.2 * len(labels)),
                                 squeeze=False)
        for j, signal in enumerate(signals):
            entry = sculpt["by_signal"][signal]
            for i, label in enumerate(labels):
                ax, m = axes[i][j], entry["masses"][label]
                for hist, what in ((m["hist_before"], "before"), (m["hist_after"], "after")):
                    h = np.asarray(hist, np.float64)
                    if h.sum() > 0:
                        ax.stairs(h / h.sum() / np.diff(edges), edges, label=what, lw=1.5)
                jsd = m["jsd"]
                ax.set_title(f"{'+'.join(entry['background'])}, {signal} cut (eps_B {entry['eps_B']:.3f})",
                             fontsize=12)
                ax.set_xlabel(f"{MASS_LABELS.get(label, label)} [GeV]", fontsize=13)
                ax.legend(fontsize=10, title=f"JSD {jsd:.3f}" if jsd is not None else None, title_fontsize=10)
        if title:
            fig.suptitle(title, fontsize=14)
        _save(plt, fig, axes[0][0], path, "")
    return path


def write_regression_plots(head: str, pred: np.ndarray, true: np.ndarray, labels: np.ndarray,
                           class_names: Sequence[str], report: Mapping[str, Any], out: Path,
                           baseline: np.ndarray | None = None, title: str = "") -> list[Path]:
    """The four figures of one regression head in ``out`` (:func:`plot_paths`; sculpting only with a
    classification head in the run)."""
    pred_vs_true, resp, res_mass, sculpt = plot_paths(out, head)
    written = [plot_pred_vs_true(pred, true, pred_vs_true, report.get("target", "mass"), title),
               plot_responses(pred, true, labels, class_names, resp, baseline, title),
               plot_resolution_vs_mass(report, res_mass, title)]
    if report.get("sculpting"):
        path = plot_sculpting(report["sculpting"], sculpt, title)
        if path is not None:
            written.append(path)
    return written
