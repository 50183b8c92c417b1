"""In-memory loading: the whole split as tensors, indexed a batch at a time."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, Dataset

from tagformer.data.collate import LoaderJetBatch
from tagformer.data.pipeline import Prepared


class JetBatchSampler(BatchSampler):
    """A :class:`BatchSampler` subclass: when Lightning injects a ``DistributedSampler`` (multi-device), it
    rebuilds a subclass around it and keeps the batch size, whereas a plain ``BatchSampler`` passed as
    ``batch_sampler`` would be replaced by single-index sampling (batches of one jet)."""


class InMemoryJetDataset(Dataset):
    """A split held as tensors (raw features, shared with ``prepared``: no copy); ``dataset[indices]``
    returns one :class:`LoaderJetBatch`.

    Use with ``DataLoader(ds, batch_sampler=BatchSampler(...), collate_fn=keep_batch)``: the loader calls
    :meth:`__getitems__` with a batch of indices, so a batch is one fancy-indexing operation per tensor
    rather than B single-jet reads and a collate (and Lightning can still swap in a distributed sampler).
    """

    def __init__(self, prepared: Prepared):
        self.features = torch.from_numpy(prepared.features)
        self.p4 = torch.from_numpy(prepared.p4)
        self.mask = torch.from_numpy(prepared.mask)
        self.labels = torch.from_numpy(prepared.labels)
        self.jet = None if prepared.jet is None else torch.from_numpy(prepared.jet)
        self.targets = None if prepared.targets is None else {
            k: torch.from_numpy(v) for k, v in prepared.targets.items()}

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int | list[int] | torch.Tensor) -> LoaderJetBatch:
        idx = torch.as_tensor([index] if isinstance(index, int) else index, dtype=torch.long)
        return self.__getitems__(idx)

    def __getitems__(self, idx: list[int] | torch.Tensor) -> LoaderJetBatch:
        idx = torch.as_tensor(idx, dtype=torch.long)
        return LoaderJetBatch(features=self.features[idx], p4=self.p4[idx], mask=self.mask[idx],
                              labels=self.labels[idx], jet=None if self.jet is None else self.jet[idx],
                              targets=None if self.targets is None else {
                                  k: v[idx] for k, v in self.targets.items()})
