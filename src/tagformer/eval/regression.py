"""Regression metrics (written out in docs/metrics.md, "Jet mass regression"): response, resolution, sculpting.

- response r = predicted / true, over jets with a finite prediction and a finite true value > 0;
- median response: ``np.median(r)``; resolution: ``(q84 - q16) / 2 / median`` with q16, q84 the 16 % and
  84 % quantiles of r (``np.quantile``, linear interpolation) - for a Gaussian response, sigma / mu;
- the same per true class, and in bins of the true mass and of the jet pT (bins ``[lo, hi)``);
- the baseline: the same numbers for the reconstructed soft-drop mass (``sdmass``) in place of the prediction;
- mass sculpting: for each signal class s of the dataset convention against its background B, the cut on
  D_s = p_s / (p_s + sum_b p_b) keeping the fraction ``eps_S`` (default 0.5) of the signal jets (threshold
  = the (1 - eps_S) quantile of D_s over s jets, jets pass when D_s >= threshold); the background's mass
  histogram before and after the cut (each normalised to unit sum; masses outside the range counted in the
  first or last bin) and their Jensen-Shannon divergence (base 2: 0 = same shape, 1 = disjoint).

Every function takes numpy arrays and returns JSON-serialisable dicts (None where no jet qualifies).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tagformer.eval.metrics import convention_for, discriminant

#: Default bins of the true mass [GeV].
MASS_EDGES: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 150.0, 200.0, 300.0)
#: Default number of equal-population bins of the jet pT (edges from the evaluated jets' pT quantiles).
PT_BINS = 5
#: Default histogram range and bin count of the sculpting mass distributions [GeV].
SCULPT_EDGES: tuple[float, ...] = tuple(float(x) for x in np.linspace(0.0, 300.0, 31))
#: Signal efficiency of the tagger cut for sculpting.
SCULPT_EFFICIENCY = 0.5


def response(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """pred / true over the jets with finite values and true > 0."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    keep = np.isfinite(pred) & np.isfinite(true) & (true > 0)
    return pred[keep] / true[keep]


def response_stats(pred: np.ndarray, true: np.ndarray) -> dict[str, Any]:
    """``{"n", "median", "resolution", "q16", "q84"}`` of the response pred / true (None values if n = 0)."""
    r = response(pred, true)
    if r.size == 0:
        return {"n": 0, "median": None, "resolution": None, "q16": None, "q84": None}
    median = float(np.median(r))
    q16, q84 = (float(q) for q in np.quantile(r, [0.16, 0.84]))
    res = (q84 - q16) / 2.0 / median if median != 0 else None
    return {"n": int(r.size), "median": median, "resolution": res, "q16": q16, "q84": q84}


def per_class(pred: np.ndarray, true: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
              ) -> dict[str, dict[str, Any]]:
    """:func:`response_stats` of the jets of each class (by name)."""
    labels = np.asarray(labels)
    return {name: response_stats(np.asarray(pred)[labels == c], np.asarray(true)[labels == c])
            for c, name in enumerate(class_names)}


def binned(pred: np.ndarray, true: np.ndarray, x: np.ndarray, edges: Sequence[float]) -> dict[str, Any]:
    """:func:`response_stats` in bins ``[edges[i], edges[i+1])`` of ``x`` (the last bin includes its upper
    edge): ``{"edges": [...], "bins": [stats, ...]}``."""
    pred, true, x = (np.asarray(a, np.float64) for a in (pred, true, x))
    edges = [float(e) for e in edges]
    bins = []
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        inside = (x >= lo) & ((x <= hi) if i == len(edges) - 2 else (x < hi))
        bins.append(response_stats(pred[inside], true[inside]))
    return {"edges": edges, "bins": bins}


def quantile_edges(x: np.ndarray, bins: int = PT_BINS) -> list[float]:
    """Edges of ``bins`` equal-population bins of the finite values of ``x`` (empty if there are none)."""
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return []
    return [float(e) for e in np.unique(np.quantile(x, np.linspace(0.0, 1.0, bins + 1)))]


def _average(stats: Mapping[str, Mapping[str, Any]], key: str) -> float | None:
    vals = [s[key] for s in stats.values() if s.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def mass_report(pred: np.ndarray, true: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                pt: np.ndarray | None = None, mass_edges: Sequence[float] = MASS_EDGES,
                pt_edges: Sequence[float] | None = None) -> dict[str, Any]:
    """Response of ``pred`` against ``true``: over all jets, per class (with the unweighted mean over the
    classes of the median and the resolution), in bins of ``true`` and, when ``pt`` is given, of the pT
    (``pt_edges``, default :data:`PT_BINS` equal-population bins)."""
    classes = per_class(pred, true, labels, class_names)
    out: dict[str, Any] = {
        "all": response_stats(pred, true),
        "per_class": classes,
        "class_average": {"median": _average(classes, "median"), "resolution": _average(classes, "resolution")},
        "vs_true_mass": binned(pred, true, true, mass_edges),
    }
    if pt is not None:
        edges = list(pt_edges) if pt_edges is not None else quantile_edges(pt)
        out["vs_pt"] = binned(pred, true, pt, edges) if len(edges) > 1 else None
    return out


def js_divergence(p: np.ndarray, q: np.ndarray) -> float | None:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms, each normalised to unit sum first;
    None if either is empty."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return None
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def mass_histogram(mass: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts of ``mass`` in ``edges`` (outside values clipped into the first/last bin; NaN dropped)."""
    m = np.asarray(mass, np.float64)
    m = m[np.isfinite(m)]
    e = np.asarray(edges, np.float64)
    return np.histogram(np.clip(m, e[0], e[-1]), bins=e)[0]


def cut_threshold(scores_signal: np.ndarray, efficiency: float = SCULPT_EFFICIENCY) -> float:
    """The threshold keeping ``efficiency`` of the signal: the (1 - efficiency) quantile of its scores."""
    return float(np.quantile(np.asarray(scores_signal, np.float64), 1.0 - efficiency))


def sculpting(probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str], masses: Mapping[str, np.ndarray],
              efficiency: float = SCULPT_EFFICIENCY, edges: Sequence[float] = SCULPT_EDGES) -> dict[str, Any]:
    """Background mass distributions before and after a tagger cut at signal efficiency ``efficiency``.

    For each (signal, background) pair of the dataset convention (W, Z, t vs q+g for hls4ml): the threshold
    on D_s, the background efficiency eps_B of the cut, and for each mass in ``masses`` (e.g. the regressed
    and the soft-drop mass, ``{label: (n,)}``) the histograms before and after, their means and their
    Jensen-Shannon divergence. ``{"efficiency", "edges", "by_signal": {signal: {...}}}``.
    """
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels)
    index = {n: i for i, n in enumerate(class_names)}
    out: dict[str, Any] = {"efficiency": efficiency, "edges": [float(e) for e in edges], "by_signal": {}}
    for spec in convention_for(list(class_names)).rejections:
        s, bkg = index[spec.signal], [index[b] for b in spec.background]
        is_sig, is_bkg = labels == s, np.isin(labels, bkg)
        if not is_sig.any() or not is_bkg.any():
            continue
        d = discriminant(probs, s, bkg)
        threshold = cut_threshold(d[is_sig], efficiency)
        passed = is_bkg & (d >= threshold)
        entry: dict[str, Any] = {"background": list(spec.background), "threshold": threshold,
                                 "eps_S": float((d[is_sig] >= threshold).mean()),
                                 "eps_B": float(passed.sum() / is_bkg.sum()), "masses": {}}
        for label, mass in masses.items():
            mass = np.asarray(mass, np.float64)
            before, after = mass_histogram(mass[is_bkg], edges), mass_histogram(mass[passed], edges)
            mean_after = mass[passed][np.isfinite(mass[passed])]
            entry["masses"][label] = {
                "hist_before": before.tolist(), "hist_after": after.tolist(),
                "mean_before": float(np.nanmean(mass[is_bkg])) if np.isfinite(mass[is_bkg]).any() else None,
                "mean_after": float(mean_after.mean()) if mean_after.size else None,
                "jsd": js_divergence(before, after),
            }
        out["by_signal"][spec.signal] = entry
    return out


def regression_report(pred: np.ndarray, true: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                      target: str, sdmass: np.ndarray | None = None, pt: np.ndarray | None = None,
                      probs: np.ndarray | None = None, mass_edges: Sequence[float] = MASS_EDGES,
                      pt_edges: Sequence[float] | None = None) -> dict[str, Any]:
    """Everything ``tagformer evaluate`` records for one regression head (the ``regression.<head>`` entry).

    ``pred``, ``true``: the head's prediction and the target (n,); ``sdmass``: the reconstructed soft-drop
    mass (the baseline) when the data have it; ``pt``: the jet pT for the pT bins; ``probs``: the class
    probabilities of the run's classification head, for the sculpting (omitted without one). The
    ``summary`` holds the numbers ``tagformer compare`` tabulates: class-averaged median response and
    resolution of the regression and of the baseline, and the sculpting JSDs averaged over the signals.
    """
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    finite = np.isfinite(pred) & np.isfinite(true)
    pt_edges = list(pt_edges) if pt_edges is not None else (quantile_edges(pt) if pt is not None else None)
    report: dict[str, Any] = {
        "target": target,
        "num_jets": len(true),
        "mae": float(np.abs(pred[finite] - true[finite]).mean()) if finite.any() else None,
        "regressed": mass_report(pred, true, labels, class_names, pt, mass_edges, pt_edges),
        "baseline": None,
        "sculpting": None,
    }
    if sdmass is not None:
        report["baseline"] = {"name": "sdmass",
                              **mass_report(sdmass, true, labels, class_names, pt, mass_edges, pt_edges)}
    if probs is not None:
        masses = {"regressed": pred, **({"sdmass": np.asarray(sdmass, np.float64)} if sdmass is not None else {})}
        report["sculpting"] = sculpting(probs, labels, class_names, masses)
    report["summary"] = summary(report)
    return report


def summary(report: Mapping[str, Any]) -> dict[str, float | None]:
    """The few headline numbers of a :func:`regression_report` (class averages; JSD averaged over signals)."""
    reg, base = report["regressed"]["class_average"], (report.get("baseline") or {}).get("class_average") or {}
    out: dict[str, float | None] = {"response": reg["median"], "resolution": reg["resolution"],
                                    "sd_response": base.get("median"), "sd_resolution": base.get("resolution")}
    for label in ("regressed", "sdmass"):
        vals = [e["masses"][label]["jsd"] for e in ((report.get("sculpting") or {}).get("by_signal") or {}).values()
                if label in e["masses"] and e["masses"][label]["jsd"] is not None]
        out["jsd" if label == "regressed" else "sd_jsd"] = float(np.mean(vals)) if vals else None
    return out
