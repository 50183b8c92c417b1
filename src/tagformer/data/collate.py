"""Building :class:`JetBatch` objects from loader output, including pinned-memory support."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import torch

from tagformer.data.batch import JetBatch


class LoaderJetBatch(JetBatch):
    """A :class:`JetBatch` the DataLoader can pin (``pin_memory=True`` calls :meth:`pin_memory`)."""

    def pin_memory(self) -> LoaderJetBatch:
        return self.map_tensors(lambda t: t.pin_memory())  # type: ignore[return-value]


def _tensor(a: np.ndarray, dtype: type) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))


def batch_from_numpy(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, labels: np.ndarray,
                     jet: np.ndarray | None = None,
                     targets: dict[str, np.ndarray] | None = None) -> LoaderJetBatch:
    """Wrap numpy arrays (no copy where dtypes already match) as a batch; ``targets`` keep their dtype."""
    return LoaderJetBatch(
        features=_tensor(features, np.float32),
        p4=_tensor(p4, np.float32),
        mask=_tensor(mask, bool),
        labels=_tensor(labels, np.int64),
        jet=None if jet is None else _tensor(jet, np.float32),
        targets={k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.items()} if targets else None,
    )


def _concat(values: list) -> torch.Tensor | dict[str, torch.Tensor] | None:
    if any(v is None for v in values):
        return None
    if isinstance(values[0], dict):
        keys = set(values[0])
        if any(set(v) != keys for v in values):
            raise ValueError(f"cannot collate batches with different targets: {[sorted(v) for v in values]}")
        return {k: torch.cat([v[k] for v in values]) for k in values[0]}
    return torch.cat(values)


def collate_jets(items: list[JetBatch]) -> LoaderJetBatch:
    """Concatenate batches (or single-jet batches) along the jet axis."""
    if len(items) == 1:
        item = items[0]
        return item if isinstance(item, LoaderJetBatch) else LoaderJetBatch(
            **{f.name: getattr(item, f.name) for f in fields(item)})
    return LoaderJetBatch(**{f.name: _concat([getattr(x, f.name) for x in items]) for f in fields(JetBatch)})


def keep_batch(batch: JetBatch) -> JetBatch:
    """Collate function for loaders whose dataset already yields whole batches (``batch_size=None``)."""
    return batch
