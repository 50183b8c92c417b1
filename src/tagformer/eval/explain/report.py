"""The report in the output directory: ``report.md`` (text, tables, figures), the PNGs and ``explain.json``
(every number)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.eval.explain.accumulate import AttentionSummary
from tagformer.eval.explain.charts import plot_faithfulness, plot_feature_importance, plot_rank_profile, plot_sparsity
from tagformer.eval.explain.data import JetGeometry
from tagformer.eval.explain.jetplot import LINK_THRESHOLD, jet_picture
from tagformer.eval.explain.mapfigures import MAX_SHOWN, class_mean_figures, example_figures, received_figures


def _figures(result: dict, out: Path, summary: AttentionSummary | None, geometry: JetGeometry,
             subjets: np.ndarray | None, picked: dict[int, str]) -> dict[str, Any]:
    name = result["preset"] or result["model"]
    figs: dict[str, Any] = {}
    attr = result["attributions"]
    names = [c for c in result["class_names"] if c in attr["feature_share"]]
    shares = np.array([attr["feature_share"][c] for c in names])
    figs["features"] = plot_feature_importance(shares, attr["feature_names"], names, out / "feature_importance.png",
                                               f"{name}: class-averaged feature importance").name
    profiles = {"|attribution|": np.array(attr["particle_rank_profile"])}
    if result["attention"] and "received_rank_profile" in result["attention"]:
        profiles["attention received"] = np.array(result["attention"]["received_rank_profile"])
    figs["rank_profile"] = plot_rank_profile(profiles, out / "rank_profile.png", f"{name}: share per pT rank").name
    figs["faithfulness"] = plot_faithfulness(result["faithfulness"], out / "faithfulness.png",
                                             f"{name}: accuracy after removing k particles").name
    if summary is None:
        return figs
    figs["sparsity"] = plot_sparsity(summary.sparsity, out / "sparsity.png", f"{name}: attention sparsity").name
    figs["class_means"] = class_mean_figures(summary, result["class_names"], out, name)
    figs["examples"] = example_figures(summary, geometry, picked, out, name)
    for module, files in received_figures(summary, geometry, result["class_names"], picked, out, name).items():
        figs["class_means"].setdefault(module, []).extend(files)
    figs["jets"] = []
    for jet, label in picked.items():
        panels = {}
        for module, jets in summary.examples.items():
            ex = jets.get(jet)
            if ex is None:
                continue
            stochastic = summary.modules[module]["stochastic"]
            matrix = None if ex["particle"] is None or not stochastic else ex["particle"].mean(0)
            received = None if ex["received"] is None else ex["received"].mean(0)
            if matrix is not None or received is not None:
                panels[module] = (matrix, received)
        if panels:
            path = out / f"jet_{jet}.png"
            jet_picture(geometry, jet, None if subjets is None else subjets[jet], panels, path,
                        f"{name}: {label}, mean of heads")
            figs["jets"].append(path.name)
    return figs


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def _pair(entry: dict, stat: str, fmt: str = "{:.3f}") -> str:
    if f"{stat}_mean" not in entry:
        return "n/a"
    return f"{fmt.format(entry[stat + '_mean'])} / {fmt.format(entry[stat + '_uniform_mean'])}"


def _attention_md(result: dict, figs: dict) -> list[str]:
    att = result["attention"]
    lines = ["## Attention", ""]
    if att is None:
        return [*lines, "The model has no attention layers.", ""]
    lines += ["Per module, means over heads and over every real query of every jet; each value is followed by "
              "the same statistic for uniform attention over the same keys (model / uniform).", ""]
    rows = []
    for module, entry in att["sparsity"].items():
        info = att["modules"][module]
        effective = "yes" if info["stochastic"] else ("signed" if info["particle_map"] else "no")
        rows.append([f"`{module}`", info["kind"], str(info["heads"]), effective, _pair(entry, "entropy", "{:.2f}"),
                     _pair(entry, "max_weight"), _pair(entry, "keys_90", "{:.1f}"), _pair(entry, "near_binary"),
                     _pair(entry, "same_subjet")])
    lines += _table(["module", "kind", "heads", "particle map", "entropy (nats)", "max weight", "keys for 90 %",
                     "rows with max > 0.9", "same subjet"], rows)
    lines += ["", f"![sparsity]({figs['sparsity']})", ""]
    lines += [f"Maps show at most the {MAX_SHOWN} hardest particles, by decreasing pT. Jet pictures draw the "
              f"head-averaged links of weight >= max({LINK_THRESHOLD}, 2 / particles) between particles (sized by "
              "pT, coloured by C/A subjet, hardest subjet first); open circles are the attention a class token "
              "gives each particle. Signed effective maps are not drawn on the jet.", ""]
    for module in att["modules"]:
        for f in figs["class_means"].get(module, []) + figs["examples"].get(module, []):
            lines += [f"![{module}]({f})", ""]
    lines += [f"![jet]({f})" for f in figs["jets"]] + [""]
    return lines


def _attributions_md(result: dict, figs: dict) -> list[str]:
    attr, ks = result["attributions"], result["settings"]["ks"]
    c = attr["completeness"]
    lines = ["## Attributions (integrated gradients)", "",
             f"Target: the predicted class's logit; {result['settings']['ig_steps']} Gauss-Legendre steps from "
             "the model's input mean. Completeness: mean |sum of attributions - logit gap| = "
             f"{c['mean_abs_delta']:.2e} (max {c['max_abs_delta']:.2e}; {100 * c['rel_delta']:.1f} % of the mean "
             f"|logit gap| {c['mean_abs_gap']:.3f}; median per jet relative {c['median_rel_delta']:.2e}).", ""]
    names = attr["feature_names"]
    rows = [[cls, *(f"{v:.3f}" for v in share)] for cls, share in attr["feature_share"].items()]
    lines += ["Share of |attribution| per input feature:", "", *_table(["class", *names], rows), ""]
    top = ", ".join(f"{k}: {v:.2f}" for k, v in zip(ks, attr["particle_top_k_share"]))
    lines += [f"Share of a jet's |attribution| held by its k most-attributed particles (mean over jets): {top}.", ""]
    att = result["attention"]
    if att and "received_top_k_share" in att:
        top = ", ".join(f"{k}: {v:.2f}" for k, v in zip(ks, att["received_top_k_share"]))
        lines += [f"Share of the attention received held by the k most-attended particles: {top}.", ""]
    lines += [f"![features]({figs['features']})", "", f"![rank profile]({figs['rank_profile']})", ""]
    return lines


def _faithfulness_md(result: dict, figs: dict) -> list[str]:
    f = result["faithfulness"]
    names = list(f["curves"])
    rows = [["0", *(f"{f['accuracy']:.3f}" for _ in names)]]
    for i, k in enumerate(f["ks"]):
        cells = [f"{f['curves'][n][i]:.3f}" + (f" ± {f['random_std'][i]:.3f}" if n == "random" else "") for n in names]
        rows.append([str(k), *cells])
    return ["## Faithfulness", "",
            "Accuracy after removing each jet's k top-ranked particles (at least one particle is kept; survivors "
            f"move up, features not recomputed). Chance (largest class share): {f['chance']:.3f}.", "",
            *_table(["k", *(f"by {n}" if n != "random" else "random (mean ± std)" for n in names)], rows), "",
            f"![faithfulness]({figs['faithfulness']})", ""]


#: Files of an earlier report in the same directory, removed first so no stale figure survives.
_OWN_FILES = ("report.md", "explain.json", "sparsity.png", "feature_importance.png", "rank_profile.png",
              "faithfulness.png", "attention_*.png", "jet_*.png")


def write_report(result: dict, out: Path, summary: AttentionSummary | None, geometry: JetGeometry,
                 subjets: np.ndarray | None, picked: dict[int, str]) -> Path:
    """Write figures, ``explain.json`` and ``report.md`` into ``out`` (replacing an earlier report's files);
    adds ``result["figures"]``."""
    out.mkdir(parents=True, exist_ok=True)
    for pattern in _OWN_FILES:
        for old in out.glob(pattern):
            old.unlink()
    figs = _figures(result, out, summary, geometry, subjets, picked)
    result["figures"] = figs
    (out / "explain.json").write_text(json.dumps(result, indent=2) + "\n")
    name = result["preset"] or result["model"]
    lines = [f"# What {name} looks at", "",
             f"Run `{result['run']}`, {result['jets']} jets ({result['split']}) of `{result['data']}`; accuracy "
             f"on them {result['accuracy']:.3f}. Written by `tagformer explain`; every number is in "
             "`explain.json`.", ""]
    if result["notes"]:
        lines += ["Notes:", "", *(f"- {n}" for n in result["notes"]), ""]
    lines += _attention_md(result, figs) + _attributions_md(result, figs) + _faithfulness_md(result, figs)
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
