"""Subjets of each jet of a batch with FastJet: Cambridge/Aachen at a fixed radius (J-JEPA's tokens) and
exclusive-kT reclustering into a given number of subjets (RINO's views).

Both take the batch's four-momenta (B, N, 4) (px, py, pz, E) and mask (B, N) as numpy arrays and cluster
only the real particles, every jet of the batch in one FastJet call.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

#: Radius of the exclusive-kT reclustering (larger than any distance inside a jet: every particle ends in a
#: subjet).
KT_RADIUS = 4.0


@dataclass
class Subjets:
    """Subjets of a batch: ``p4`` (B, S, 4) and ``mask`` (B, S), pT-ordered; ``assign`` (B, N) gives each
    particle's subjet (-1 for padded slots and particles of subjets beyond ``S``)."""

    p4: np.ndarray
    mask: np.ndarray
    assign: np.ndarray


def _events(p4: np.ndarray, mask: np.ndarray):
    import awkward as ak
    import vector

    vector.register_awkward()
    real = p4[mask].astype(np.float64)
    flat = ak.zip({"px": real[:, 0], "py": real[:, 1], "pz": real[:, 2], "E": real[:, 3]}, with_name="Momentum4D")
    return ak.unflatten(flat, mask.sum(axis=1))


def _pt(p4: np.ndarray) -> np.ndarray:
    return np.hypot(p4[..., 0], p4[..., 1])


def ca_subjets(p4: np.ndarray, mask: np.ndarray, radius: float = 0.2, max_subjets: int = 20) -> Subjets:
    """Cambridge/Aachen subjets of radius ``radius`` of every jet, the ``max_subjets`` hardest in pT order."""
    import fastjet

    b, n = mask.shape
    out_p4 = np.zeros((b, max_subjets, 4), np.float32)
    out_mask = np.zeros((b, max_subjets), bool)
    assign = np.full((b, n), -1, np.int64)
    if not mask.any():
        return Subjets(out_p4, out_mask, assign)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seq = fastjet.ClusterSequence(_events(p4, mask), fastjet.JetDefinition(fastjet.cambridge_algorithm, radius))
        members = seq.constituent_index().to_list()
    slots = [np.flatnonzero(row) for row in mask]
    for i, jets in enumerate(members):
        jets_p4 = [p4[i, slots[i][np.asarray(c, dtype=np.int64)]].astype(np.float64).sum(axis=0) for c in jets]
        order = np.argsort([-_pt(v) for v in jets_p4], kind="stable")[:max_subjets]
        for s, j in enumerate(order):
            out_p4[i, s] = jets_p4[j]
            out_mask[i, s] = True
            assign[i, slots[i][np.asarray(jets[j], dtype=np.int64)]] = s
    return Subjets(out_p4, out_mask, assign)


def exclusive_kt_subjets(p4: np.ndarray, mask: np.ndarray, n_subjets: int) -> tuple[np.ndarray, np.ndarray]:
    """Each jet reclustered with exclusive kT into ``n_subjets`` subjets, pT-ordered: ((B, n, 4), (B, n)).
    A jet with at most ``n_subjets`` particles keeps its particles (pT-ordered) as they are."""
    import awkward as ak
    import fastjet

    b = mask.shape[0]
    out_p4 = np.zeros((b, n_subjets, 4), np.float32)
    out_mask = np.zeros((b, n_subjets), bool)
    counts = mask.sum(axis=1)
    small = np.flatnonzero(counts <= n_subjets)
    for i in small:
        real = p4[i, mask[i]]
        order = np.argsort(-_pt(real), kind="stable")
        out_p4[i, : len(real)] = real[order]
        out_mask[i, : len(real)] = True
    big = np.flatnonzero(counts > n_subjets)
    if len(big):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seq = fastjet.ClusterSequence(_events(p4[big], mask[big]), fastjet.JetDefinition(fastjet.kt_algorithm,
                                                                                              KT_RADIUS))
            jets = seq.exclusive_jets(n_jets=n_subjets)
        arr = np.stack([ak.to_numpy(jets[f]) for f in ("px", "py", "pz", "E")], axis=-1)  # (len(big), n, 4)
        order = np.argsort(-_pt(arr), axis=1, kind="stable")
        out_p4[big] = np.take_along_axis(arr, order[..., None], axis=1)
        out_mask[big] = True
    return out_p4, out_mask
