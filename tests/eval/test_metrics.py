from __future__ import annotations

import numpy as np
import pytest

from tagformer.eval.metrics import (
    compute_metrics,
    convention_for,
    discriminant,
    rejection_at,
    roc_for,
)

HLS = ["g", "q", "w", "z", "t"]


def _noisy(labels: np.ndarray, classes: int, sharp: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(labels), classes))
    logits[np.arange(len(labels)), labels] += sharp
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


def test_hls4ml_convention():
    conv = convention_for(["j_g", "j_q", "j_w", "j_z", "j_t"])
    assert conv.name == "hls4ml"
    assert [s.signal for s in conv.rejections] == ["j_w", "j_z", "j_t"]
    assert all(s.background == ("j_q", "j_g") and s.efficiencies == (0.8, 0.5, 0.3) for s in conv.rejections)
    assert conv.average == ("j_w", "j_z", "j_t")


def test_jetclass_and_binary_conventions():
    jc = convention_for(["QCD", "Hbb", "Hqql", "Tbl"])
    assert jc.name == "jetclass"
    assert {s.signal: s.efficiencies for s in jc.rejections} == {"Hbb": (0.5,), "Hqql": (0.99,), "Tbl": (0.995,)}
    binary = convention_for(["qcd", "top"])
    assert binary.rejections[0].signal == "top" and binary.rejections[0].efficiencies == (0.3, 0.5)


def test_discriminant_uses_only_signal_and_background_probabilities():
    probs = np.array([[0.1, 0.1, 0.6, 0.1, 0.1], [0.0, 0.0, 0.0, 1.0, 0.0]])
    d = discriminant(probs, 2, [1, 0])
    assert d[0] == pytest.approx(0.6 / 0.8)
    assert d[1] == pytest.approx(0.5)  # zero denominator


def test_rejection_matches_a_hand_computed_roc():
    # 4 signal jets with D = 0.9, 0.8, 0.7, 0.1 and 4 background jets with D = 0.85, 0.2, 0.15, 0.05
    probs = np.array([[1 - d, d] for d in (0.9, 0.8, 0.7, 0.1, 0.85, 0.2, 0.15, 0.05)])
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    tpr, fpr = roc_for(probs, labels, 1, [0])
    # every threshold: (0.25, 0), (0.25, 0.25), (0.5, 0.25), (0.75, 0.25), (0.75, 0.5), (0.75, 0.75), (1, 0.75)
    # eps_S = 0.5 lies on the flat segment eps_B = 0.25
    assert rejection_at(tpr, fpr, 0.5) == pytest.approx(4.0)
    # at the vertical step eps_S = 0.75 the best (lowest) eps_B counts
    assert rejection_at(tpr, fpr, 0.75) == pytest.approx(4.0)
    # half-way between (0.75, 0.25) and (1.0, 0.75): eps_B = 0.5
    assert rejection_at(tpr, fpr, 0.875) == pytest.approx(2.0)


def test_compute_metrics_perfect_and_random():
    labels = np.repeat(np.arange(5), 200)
    perfect = compute_metrics(np.eye(5)[labels], labels, HLS)
    assert perfect["accuracy"] == 1.0 and perfect["auc_macro"] == 1.0
    assert perfect["rejection"]["w"]["0.8"] is None  # no background passes: unbounded
    assert np.diag(perfect["confusion_matrix"]).tolist() == [200] * 5
    good = compute_metrics(_noisy(labels, 5, 1.5), labels, HLS)
    poor = compute_metrics(_noisy(labels, 5, 0.3), labels, HLS)
    assert good["accuracy"] > poor["accuracy"]
    assert good["auc_macro"] > poor["auc_macro"] > 0.5
    assert good["rejection_average"]["0.8"] > poor["rejection_average"]["0.8"] > 1.0
    avg = np.mean([good["rejection"][s]["0.8"] for s in ("w", "z", "t")])
    assert good["rejection_average"]["0.8"] == pytest.approx(avg)
    assert np.allclose(np.sum(good["confusion_matrix_normalised"], axis=1), 1.0)


def test_absent_class_gives_none_not_a_crash():
    labels = np.array([0, 1, 0, 1, 2, 2])
    probs = np.full((6, 5), 0.2)
    m = compute_metrics(probs, labels, HLS)
    assert m["auc"]["z"] is None and m["rejection"]["t"]["0.8"] is None
    assert m["rejection_average"]["0.8"] is None
