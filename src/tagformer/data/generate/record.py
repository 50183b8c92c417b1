"""Flat numpy view of a batch of Pythia event records (one copy out of awkward, then plain numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np


@dataclass(frozen=True)
class EventRecord:
    """All particles of a batch of events, flattened.

    ``offsets[e]`` is the flat index of particle 0 of event ``e``; ``event`` the event of each particle;
    ``daughter1/2`` are flat indices (-1 where the particle has none); ``p4`` is (n, 4) (px, py, pz, E).
    """

    id: np.ndarray
    status: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    p4: np.ndarray
    event: np.ndarray
    offsets: np.ndarray

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_awkward(cls, prt: ak.Array) -> EventRecord:
        """From the ``prt`` field of ``pythia.nextBatch`` (fields id, status, daughter1/2, p)."""
        counts = ak.to_numpy(ak.num(prt.id)).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        event = np.repeat(np.arange(len(counts)), counts)
        start = offsets[:-1][event]

        def flat(x: ak.Array) -> np.ndarray:
            return ak.to_numpy(ak.flatten(x))

        d1, d2 = flat(prt.daughter1).astype(np.int64), flat(prt.daughter2).astype(np.int64)
        p = prt.p
        p4 = np.stack([flat(p[f]) for f in ("px", "py", "pz", "e")], axis=1)
        return cls(id=flat(prt.id), status=flat(prt.status), daughter1=np.where(d1 > 0, d1 + start, -1),
                   daughter2=np.where(d2 > 0, d2 + start, -1), p4=p4, event=event, offsets=offsets)
