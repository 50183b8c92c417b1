"""In-memory loading: the whole split as tensors, indexed a batch at a time, in an order that is a function
of (seed, epoch) only (:class:`EpochShuffle`), so that a run resumed at an epoch boundary sees exactly the
batches an uninterrupted run would."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
import torch
from torch.utils.data import BatchSampler, Dataset, RandomSampler

from tagformer.data.collate import LoaderJetBatch
from tagformer.data.pipeline import Prepared


class JetBatchSampler(BatchSampler):
    """A :class:`BatchSampler` subclass: when Lightning injects a ``DistributedSampler`` (multi-device), it
    rebuilds a subclass around it and keeps the batch size, whereas a plain ``BatchSampler`` passed as
    ``batch_sampler`` would be replaced by single-index sampling (batches of one jet)."""


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit generator seed derived from (``seed``, ``epoch``) (numpy's SeedSequence mixing)."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


class EpochShuffle(RandomSampler):
    """Random permutation of the dataset's indices drawn from (``seed``, epoch) alone: no state carried
    between epochs.

    Lightning calls :meth:`set_epoch` before each training epoch (also for a resumed run, which starts at
    the checkpoint's epoch), so epoch ``e`` is shuffled identically whether or not the run was interrupted
    before it. The permutation is drawn when iteration starts, so a ``set_epoch`` after ``iter()`` still
    applies to that epoch. Each pass then advances the epoch by one, so plain loops outside Lightning
    reshuffle too (``set_epoch`` overrides it).

    A :class:`~torch.utils.data.RandomSampler` subclass, so that Lightning sees a shuffled loader and, on
    several devices, swaps in its ``DistributedSampler`` (itself a function of seed and epoch).
    """

    def __init__(self, data_source: Sized, seed: int, epoch: int = 0) -> None:
        super().__init__(data_source)
        self.n, self.seed, self.epoch = len(data_source), int(seed), int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        yield from torch.randperm(self.n, generator=generator).tolist()


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
