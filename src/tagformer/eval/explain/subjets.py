"""C/A subjets of each jet's real particles with FastJet (imported lazily: the ``generate`` extra)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tagformer.errors import TagformerError

#: C/A radius for reclustering one jet: larger than any distance inside a jet.
_RECLUSTER_R = 4.0


def _fastjet():
    try:
        import fastjet
    except ImportError as exc:
        raise TagformerError("subjets need FastJet: pip install 'tagformer[generate]' (or pass --no-subjets "
                             "to skip the subjet colouring and the same-subjet statistics)") from exc
    from tagformer.data.generate.pythia import silence_fastjet_banner

    silence_fastjet_banner()
    return fastjet


def subjet_labels(p4: np.ndarray, mask: np.ndarray, n_subjets: int = 3,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Exclusive Cambridge/Aachen subjet of every particle.

    Each jet's real particles are reclustered with C/A and the clustering is stopped at
    ``min(n_subjets, number of particles)`` exclusive subjets; subjets are numbered by decreasing pT.

    Parameters
    ----------
    p4 : (B, N, 4) four-momenta (px, py, pz, E).
    mask : (B, N) real particles.
    n_subjets : subjets per jet.
    progress : called as ``progress(done, total)`` every few hundred jets.

    Returns
    -------
    (B, N) int: subjet index (0 = hardest) of each real particle, -1 on padding.
    """
    if n_subjets < 1:
        raise TagformerError(f"the number of subjets must be at least 1, got {n_subjets}")
    fastjet = _fastjet()
    jetdef = fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R)
    labels = np.full(mask.shape, -1, dtype=np.int64)
    for b in range(mask.shape[0]):
        slots = np.flatnonzero(mask[b])
        particles = []
        for slot in slots:
            px, py, pz, e = (float(v) for v in p4[b, slot])
            pj = fastjet.PseudoJet(px, py, pz, e)
            pj.set_user_index(int(slot))
            particles.append(pj)
        if particles:
            seq = fastjet.ClusterSequence(particles, jetdef)
            subjets = sorted(seq.exclusive_jets(min(n_subjets, len(particles))), key=lambda j: -j.pt())
            for i, sub in enumerate(subjets):
                for c in sub.constituents():
                    labels[b, c.user_index()] = i
        if progress is not None and ((b + 1) % 500 == 0 or b + 1 == mask.shape[0]):
            progress(b + 1, mask.shape[0])
    return labels
