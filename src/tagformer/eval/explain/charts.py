"""Summary charts of the report: sparsity per module, feature importances, pT-rank profiles, faithfulness."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tagformer.eval.explain.plots import save, style


def plot_sparsity(sparsity: dict[str, dict], path: Path, title: str = "") -> Path:
    """Per module: largest weight and same-subjet share (mean over heads, heads as dots) against uniform."""
    names = list(sparsity)
    pos = np.arange(len(names))
    with style() as plt:
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(names) + 3), squeeze=False)
        for ax, stat, label in ((axes[0][0], "max_weight", "largest weight per row"),
                                (axes[0][1], "same_subjet", "weight within the query's subjet")):
            for i, name in enumerate(names):
                entry = sparsity[name]
                if stat not in entry:
                    continue
                ax.scatter(entry[stat], [i] * len(entry[stat]), color="tab:blue", s=12, alpha=0.6)
                ax.scatter([entry[f"{stat}_mean"]], [i], color="tab:blue", marker="D", s=40,
                           label="model" if i == 0 else None)
                ax.scatter([entry[f"{stat}_uniform_mean"]], [i], color="tab:gray", marker="|", s=300,
                           label="uniform" if i == 0 else None)
            ax.set_yticks(pos, names, fontsize=9)
            ax.set_xlim(0, 1.02)
            ax.set_xlabel(label, fontsize=12)
            ax.invert_yaxis()
            ax.legend(fontsize=10, loc="lower right")
        fig.tight_layout()
        return save(plt, fig, path, title)


def plot_feature_importance(shares: np.ndarray, feature_names: list[str], class_names: list[str], path: Path,
                            title: str = "") -> Path:
    """Grouped bars: share of |attribution| per input feature (rows of ``shares``: classes)."""
    c, f = shares.shape
    width = 0.8 / c
    with style() as plt:
        fig, ax = plt.subplots(figsize=(max(8, 0.7 * f * max(1, c / 3)), 5))
        for i in range(c):
            ax.bar(np.arange(f) + (i - (c - 1) / 2) * width, shares[i], width, label=class_names[i])
        ax.set_xticks(np.arange(f), feature_names, rotation=45, ha="right", fontsize=10)
        ax.set_ylabel("share of |attribution|", fontsize=12)
        ax.legend(fontsize=9, ncol=min(c, 5))
        fig.tight_layout()
        return save(plt, fig, path, title)


def plot_rank_profile(profiles: dict[str, np.ndarray], path: Path, title: str = "", shown: int = 32) -> Path:
    """Mean share per particle pT rank (0 = hardest) of each profile (e.g. |attribution|, attention)."""
    with style() as plt:
        fig, ax = plt.subplots(figsize=(8, 5))
        for label, profile in profiles.items():
            k = min(shown, len(profile))
            ax.plot(np.arange(k), profile[:k], marker="o", ms=3, label=label)
        ax.set_xlabel("particle pT rank", fontsize=12)
        ax.set_ylabel("mean share per jet", fontsize=12)
        ax.set_yscale("log")
        ax.legend(fontsize=11)
        fig.tight_layout()
        return save(plt, fig, path, title)


def plot_faithfulness(result: dict, path: Path, title: str = "") -> Path:
    """Accuracy against the number of removed particles, per ranking, with chance and the intact accuracy."""
    ks = [0, *result["ks"]]
    with style() as plt:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        for name, curve in result["curves"].items():
            style_ = "--" if name == "random" else "-"
            ax.plot(ks, [result["accuracy"], *curve], style_, marker="o", label=f"top-k by {name}"
                    if name != "random" else "k random")
        ax.axhline(result["chance"], color="gray", lw=1, ls=":", label="chance (largest class)")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("particles removed per jet (k)", fontsize=12)
        ax.set_ylabel("accuracy", fontsize=12)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=11)
        fig.tight_layout()
        return save(plt, fig, path, title)
