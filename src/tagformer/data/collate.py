"""Building :class:`JetBatch` objects from loader output, including pinned-memory support."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from tagformer.data.batch import JetBatch


class LoaderJetBatch(JetBatch):
    """A :class:`JetBatch` the DataLoader can pin (``pin_memory=True`` calls :meth:`pin_memory`)."""

    def pin_memory(self) -> LoaderJetBatch:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return LoaderJetBatch(**{k: (v.pin_memory() if isinstance(v, torch.Tensor) else v)
                                 for k, v in values.items()})


def batch_from_numpy(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, labels: np.ndarray,
                     jet: np.ndarray | None = None) -> LoaderJetBatch:
    """Wrap numpy arrays (no copy where dtypes already match) as a batch."""
    return LoaderJetBatch(
        features=torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
        p4=torch.from_numpy(np.ascontiguousarray(p4, dtype=np.float32)),
        mask=torch.from_numpy(np.ascontiguousarray(mask, dtype=bool)),
        labels=torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)),
        jet=None if jet is None else torch.from_numpy(np.ascontiguousarray(jet, dtype=np.float32)),
    )


def collate_jets(items: list[JetBatch]) -> LoaderJetBatch:
    """Concatenate batches (or single-jet batches) along the jet axis."""
    if len(items) == 1:
        item = items[0]
        return item if isinstance(item, LoaderJetBatch) else LoaderJetBatch(
            **{f.name: getattr(item, f.name) for f in fields(item)})
    out = {}
    for f in fields(JetBatch):
        values = [getattr(x, f.name) for x in items]
        out[f.name] = None if any(v is None for v in values) else torch.cat(values)
    return LoaderJetBatch(**out)


def keep_batch(batch: JetBatch) -> JetBatch:
    """Collate function for loaders whose dataset already yields whole batches (``batch_size=None``)."""
    return batch
