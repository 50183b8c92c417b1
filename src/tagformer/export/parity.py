"""Agreement between two sets of logits on the same jets (torch vs onnxruntime, fp32 vs int8)."""

from __future__ import annotations

from typing import Any

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def macro_auc(logits: np.ndarray, labels: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC of the softmax outputs (NaN if a class is missing from ``labels``)."""
    from sklearn.metrics import roc_auc_score

    classes = logits.shape[1]
    if len(np.unique(labels)) < classes:
        return float("nan")
    probs = softmax(logits.astype(np.float64))
    return float(roc_auc_score(labels, probs, multi_class="ovr", average="macro"))


def compare_logits(reference: np.ndarray, other: np.ndarray, labels: np.ndarray | None = None) -> dict[str, Any]:
    """Max / mean absolute logit difference, argmax agreement and (with labels) both accuracies and AUCs."""
    if reference.shape != other.shape:
        raise ValueError(f"logit shapes differ: {reference.shape} vs {other.shape}")
    diff = np.abs(reference.astype(np.float64) - other.astype(np.float64))
    out: dict[str, Any] = {
        "jets": int(reference.shape[0]),
        "max_abs_logit_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_logit_diff": float(diff.mean()) if diff.size else 0.0,
        "argmax_agreement": float((reference.argmax(1) == other.argmax(1)).mean()) if len(diff) else 1.0,
    }
    if labels is not None:
        out["accuracy_reference"] = accuracy(reference, labels)
        out["accuracy_other"] = accuracy(other, labels)
        out["accuracy_change"] = out["accuracy_other"] - out["accuracy_reference"]
        out["auc_reference"] = macro_auc(reference, labels)
        out["auc_other"] = macro_auc(other, labels)
        out["auc_change"] = out["auc_other"] - out["auc_reference"]
    return out
