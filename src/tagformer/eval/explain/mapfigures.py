"""The attention-map figures of the report: class-averaged maps and example jets, per attention module."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from tagformer.eval.explain.accumulate import AttentionSummary
from tagformer.eval.explain.data import JetGeometry
from tagformer.eval.explain.plots import heatmap_grid, save, slug, style

#: Largest number of pT-ranked particles shown on a map axis (the rest is almost always padding).
MAX_SHOWN = 32


def _heads(h: int) -> list[str]:
    return [f"head {i}" for i in range(h)] + ["mean of heads"]


def _with_mean(maps: np.ndarray) -> list[np.ndarray]:
    """(H, Q, K) -> H panels plus their mean (NaN where no jet had the pair)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pairs stay NaN
        return [*maps, np.nanmean(maps, axis=0)]


def class_mean_figures(summary: AttentionSummary, class_names: list[str], out: Path,
                       model: str) -> dict[str, list[str]]:
    """One PNG per module: class-averaged maps (rows = classes, columns = heads and their mean).

    Effective particle maps are indexed by pT rank (0 = hardest) and cut at ``MAX_SHOWN`` ranks; maps in a
    module's own terms (modules without an effective map that is a distribution) show the first
    ``MAX_SHOWN`` queries and every key, as the module orders them.
    Returns ``{module: [file names]}``.
    """
    files: dict[str, list[str]] = {}
    for name, means in summary.particle_means.items():
        info = summary.modules[name]
        k = min(MAX_SHOWN, means.shape[-1])
        panels = [_with_mean(means[c][:, :k, :k]) for c in range(means.shape[0])]
        path = out / f"attention_{slug(name)}_class_mean.png"
        heatmap_grid(panels, class_names, _heads(means.shape[1]), path,
                     f"{model} · {name} ({info['kind']}): class-averaged effective map", xlabel="key pT rank",
                     ylabel="query pT rank", **_scale(info))
        files.setdefault(name, []).append(path.name)
    for name, means in summary.own_means.items():
        info = summary.modules[name]
        panels = [_with_mean(means[c][:, :MAX_SHOWN]) for c in range(means.shape[0])]
        path = out / f"attention_{slug(name)}_class_mean_own.png"
        heatmap_grid(panels, class_names, _heads(means.shape[1]), path,
                     f"{model} · {name}: class-averaged map in its own terms ({info['kind']})",
                     xlabel=_own_axis(info["kind"], "key"), ylabel=_own_axis(info["kind"], "query"))
        files.setdefault(name, []).append(path.name)
    return files


def _scale(info: dict) -> dict:
    """Colour-scale arguments: diverging for effective maps that are not distributions."""
    if info["stochastic"]:
        return {}
    return {"signed": True, "label": "effective weight"}


def _own_axis(kind: str, which: str) -> str:
    names = {"linformer": ("particle slot", "projected key"), "partitions": ("particle slot", "partition"),
             "class_token": ("class token", "[cls, particle slots]"), "patch_tokens": ("patch", "patch")}
    q, k = names.get(kind, ("query", "key"))
    return q if which == "query" else k


def example_figures(summary: AttentionSummary, geometry: JetGeometry, examples: dict[int, str], out: Path,
                    model: str) -> dict[str, list[str]]:
    """Per module, the maps of the example jets (rows) per head: effective maps over the real particles by
    decreasing pT, and maps in the module's own terms where those are kept (real queries, first
    :data:`MAX_SHOWN`). ``examples`` maps a jet index to its row label. Returns ``{module: [file names]}``."""
    files: dict[str, list[str]] = {}
    for name, jets in summary.examples.items():
        info = summary.modules[name]
        particle, own, particle_labels, own_labels = [], [], [], []
        for jet, label in examples.items():
            ex = jets.get(jet)
            if ex is None:
                continue
            n = int(geometry.mask[jet].sum())
            if ex["particle"] is not None:
                order = geometry.order[jet][: min(n, MAX_SHOWN)]
                particle.append(_with_mean(ex["particle"][:, order][:, :, order]))
                particle_labels.append(label)
            if ex["own"] is not None:
                own.append(_with_mean(ex["own"][:, : min(ex["own"].shape[1], n, MAX_SHOWN)]))
                own_labels.append(label)
        if particle:
            path = out / f"attention_{slug(name)}_examples.png"
            heatmap_grid(particle, particle_labels, _heads(info["heads"]), path,
                         f"{model} · {name} ({info['kind']}): example jets", xlabel="key pT rank",
                         ylabel="query pT rank", **_scale(info))
            files.setdefault(name, []).append(path.name)
        if own:
            path = out / f"attention_{slug(name)}_examples_own.png"
            heatmap_grid(own, own_labels, _heads(info["heads"]), path,
                         f"{model} · {name}: example jets in its own terms ({info['kind']})",
                         xlabel=_own_axis(info["kind"], "key"), ylabel=_own_axis(info["kind"], "query"))
            files.setdefault(name, []).append(path.name)
    return files


def received_figures(summary: AttentionSummary, geometry: JetGeometry, class_names: list[str],
                     examples: dict[int, str], out: Path, model: str) -> dict[str, list[str]]:
    """One PNG per class-token module: the weight each particle receives against its pT rank, per head and
    their mean; top row class averages (one line per class), bottom row the example jets."""
    files: dict[str, list[str]] = {}
    for name, means in summary.received_means.items():
        heads = means.shape[1]
        k = min(MAX_SHOWN, means.shape[-1])
        jets = summary.examples.get(name, {})
        with style() as plt:
            fig, axes = plt.subplots(2, heads + 1, figsize=(3.0 * (heads + 1) + 1, 6.2), squeeze=False,
                                     sharey="row")
            for col, title in enumerate(_heads(heads)):
                top, bottom = axes[0][col], axes[1][col]
                for c, cls in enumerate(class_names):
                    curve = means[c, col] if col < heads else np.nanmean(means[c], axis=0)
                    top.plot(np.arange(k), curve[:k], marker="o", ms=2, lw=1, label=cls)
                for jet, label in examples.items():
                    ex = jets.get(jet)
                    if ex is None or ex["received"] is None:
                        continue
                    n = int(geometry.mask[jet].sum())
                    order = geometry.order[jet][: min(n, k)]
                    values = ex["received"][col] if col < heads else ex["received"].mean(0)
                    bottom.plot(np.arange(len(order)), values[order], marker="o", ms=2, lw=1, label=label)
                top.set_title(title, fontsize=11)
                bottom.set_xlabel("particle pT rank", fontsize=10)
                for ax in (top, bottom):
                    ax.tick_params(labelsize=8)
            axes[0][0].set_ylabel("class mean", fontsize=10)
            axes[1][0].set_ylabel("example jets", fontsize=10)
            axes[0][-1].legend(fontsize=7, frameon=False)
            axes[1][-1].legend(fontsize=7, frameon=False)
            fig.tight_layout()
            path = save(plt, fig, out / f"attention_{slug(name)}_received.png",
                        f"{model} · {name}: class-token weight on each particle")
        files.setdefault(name, []).append(path.name)
    return files
