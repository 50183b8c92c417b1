"""The one set of metric definitions (written out, with the conventions per dataset, in docs/metrics.md).

- accuracy: fraction of jets whose argmax class equals the label;
- per-class AUC: one-vs-rest ROC AUC of the softmax output p_c (``sklearn.metrics.roc_auc_score``);
  macro AUC = unweighted mean over classes;
- background rejection R(x) = 1 / eps_B at signal efficiency eps_S = x, for a signal class s against a
  background set B, using only jets of s and B and the discriminant D_s = p_s / (p_s + sum_b p_b); eps_B is
  linearly interpolated on the ROC curve (``sklearn.metrics.roc_curve``) at tpr = x (lowest eps_B where
  several ROC points share that tpr);
- confusion matrix: counts, rows = true class, columns = predicted class (and row-normalised).

Which (s, B, x) triples are reported depends on the dataset convention (:func:`convention_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RejectionSpec:
    """Report R at ``efficiencies`` for ``signal`` against ``background`` (class names)."""

    signal: str
    background: tuple[str, ...]
    efficiencies: tuple[float, ...]


@dataclass(frozen=True)
class Convention:
    name: str
    rejections: tuple[RejectionSpec, ...]
    average: tuple[str, ...] = ()  # signals whose R is averaged (per efficiency)


def _canonical(name: str) -> str:
    n = name.lower()
    for prefix in ("label_", "j_", "is_"):
        if n.startswith(prefix):
            n = n[len(prefix):]
    return n


_JETCLASS = ("hbb", "hcc", "hgg", "h4q", "hqql", "zqq", "wqq", "tbqq", "tbl")
_JETCLASS_EFF = {"hqql": 0.99, "tbl": 0.995}


def convention_for(class_names: list[str]) -> Convention:
    """The literature convention for a dataset with these class names.

    hls4ml 5-class (g, q, w, z, t): W, Z, t each vs {q, g} at 0.8, 0.5, 0.3, averaged over W, Z, t.
    JetClass: each class vs QCD at 0.5 (Hqql 0.99, Tbl 0.995). Two classes (top tagging, quark-gluon):
    the second class vs the first at 0.3 and 0.5. Otherwise: every class vs the rest at 0.5.
    """
    canon = [_canonical(c) for c in class_names]
    lookup = dict(zip(canon, class_names))
    if set(canon) == {"g", "q", "w", "z", "t"}:
        bkg = (lookup["q"], lookup["g"])
        specs = tuple(RejectionSpec(lookup[s], bkg, (0.8, 0.5, 0.3)) for s in ("w", "z", "t"))
        return Convention("hls4ml", specs, tuple(lookup[s] for s in ("w", "z", "t")))
    if "qcd" in canon and set(canon) - {"qcd"} <= set(_JETCLASS):
        specs = tuple(RejectionSpec(lookup[c], (lookup["qcd"],), (_JETCLASS_EFF.get(c, 0.5),))
                      for c in canon if c != "qcd")
        return Convention("jetclass", specs)
    if len(class_names) == 2:
        return Convention("binary", (RejectionSpec(class_names[1], (class_names[0],), (0.3, 0.5)),))
    specs = tuple(RejectionSpec(c, tuple(b for b in class_names if b != c), (0.5,)) for c in class_names)
    return Convention("one-vs-rest", specs)


def discriminant(probs: np.ndarray, signal: int, background: list[int]) -> np.ndarray:
    """D_s = p_s / (p_s + sum_b p_b) (0.5 where the denominator is 0)."""
    ps = probs[:, signal]
    denom = ps + probs[:, background].sum(axis=1)
    return np.divide(ps, denom, out=np.full_like(ps, 0.5, dtype=np.float64), where=denom > 0)


def roc_for(probs: np.ndarray, labels: np.ndarray, signal: int, background: list[int]
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """(eps_S, eps_B) arrays of the ROC of D_s on jets of s and B; None if either set is empty."""
    from sklearn.metrics import roc_curve

    keep = np.isin(labels, [signal, *background])
    y = labels[keep] == signal
    if y.all() or not y.any():
        return None
    fpr, tpr, _ = roc_curve(y, discriminant(probs[keep], signal, background), drop_intermediate=False)
    return tpr, fpr


def rejection_at(tpr: np.ndarray, fpr: np.ndarray, efficiency: float) -> float | None:
    """1 / eps_B at eps_S = ``efficiency``; None if eps_B there is 0 (rejection unbounded).

    Where the ROC has several points at the same eps_S (a vertical step), the lowest eps_B is used; between
    points eps_B is linearly interpolated (the operating points a mixture of two thresholds achieves).
    """
    tpr_u, first = np.unique(tpr, return_index=True)  # roc_curve is non-decreasing: first = lowest fpr
    eps_b = float(np.interp(efficiency, tpr_u, fpr[first]))
    return 1.0 / eps_b if eps_b > 0 else None


def compute_metrics(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """All metrics of one evaluation as a JSON-serialisable dict.

    Parameters
    ----------
    probs : (n, C) softmax outputs. labels : (n,) integer classes. class_names : C names.
    """
    from sklearn.metrics import confusion_matrix, roc_auc_score

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_cls = len(class_names)
    pred = probs.argmax(axis=1)
    auc: dict[str, float | None] = {}
    for c, name in enumerate(class_names):
        y = labels == c
        auc[name] = float(roc_auc_score(y, probs[:, c])) if 0 < y.sum() < len(y) else None
    valid = [v for v in auc.values() if v is not None]
    conv = convention_for(class_names)
    index = {n: i for i, n in enumerate(class_names)}
    rejection: dict[str, dict[str, float | None]] = {}
    for spec in conv.rejections:
        roc = roc_for(probs, labels, index[spec.signal], [index[b] for b in spec.background])
        rejection[spec.signal] = {
            f"{x:g}": (rejection_at(roc[0], roc[1], x) if roc is not None else None) for x in spec.efficiencies
        }
    average: dict[str, float | None] = {}
    if conv.average:
        for x in conv.rejections[0].efficiencies:
            vals = [rejection[s][f"{x:g}"] for s in conv.average]
            average[f"{x:g}"] = float(np.mean(vals)) if all(v is not None for v in vals) else None
    cm = confusion_matrix(labels, pred, labels=list(range(n_cls)))
    rows = cm.sum(axis=1, keepdims=True)
    return {
        "num_jets": len(labels),
        "class_names": list(class_names),
        "class_counts": [int(v) for v in np.bincount(labels, minlength=n_cls)],
        "accuracy": float((pred == labels).mean()) if len(labels) else float("nan"),
        "auc": auc,
        "auc_macro": float(np.mean(valid)) if valid else None,
        "convention": conv.name,
        "rejection": rejection,
        "rejection_background": {s.signal: list(s.background) for s in conv.rejections},
        "rejection_average": average,
        "rejection_average_over": list(conv.average),
        "confusion_matrix": cm.tolist(),
        "confusion_matrix_normalised": np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0).tolist(),
    }
