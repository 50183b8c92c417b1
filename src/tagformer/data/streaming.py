"""Streaming loading for JetClass-size data: an IterableDataset over file chunks with a shuffle buffer.

Work is cut into units (file, start, stop) of ``chunk_size`` jets (a whole file for npz). Each worker
process (and each distributed rank) takes every k-th unit, so no jet is read twice. Within a worker the
unit order is shuffled per epoch; prepared jets go into a buffer of at most ``shuffle_buffer`` jets, and
whenever a new chunk overflows it, the buffer is permuted and full batches are emitted until it fits again.
Features are yielded raw (the model standardises them), padded slots 0, as by the in-memory dataset.

Memory bound per worker: (shuffle_buffer + chunk_size) prepared jets of N x (F + 4 + 1) values, plus one
raw chunk as read from disk.

Reproducibility: what a worker yields in an epoch is a function of (seed, epoch, its slot, the number of
slots) only: no random state is carried between epochs or taken from torch's global generator. The
training loop sets the epoch (:meth:`StreamingJetDataset.set_epoch`, called by the data module), so a
run resumed at an epoch boundary streams exactly the batches an uninterrupted run would. The number of
loader workers (and of distributed ranks) is part of that function: with W workers the units are dealt
to W slots, each slot shuffles its own units through its own buffer, and the loader takes batches from
the workers in turn. So 0 and 2 workers visit the same jets each epoch, each exactly once, but batch
composition and order differ, and so do the trained weights (by the run-to-run spread of a changed
shuffle). Keep ``data.num_workers`` fixed to reproduce a streaming run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from tagformer.data.collate import LoaderJetBatch, batch_from_numpy
from tagformer.data.formats import FILE_SHIFT, get_reader, iter_chunks
from tagformer.data.formats.base import JetArrays
from tagformer.data.formats.targets import all_dropped_error
from tagformer.data.pipeline import Prepared, concat_prepared, prepare
from tagformer.data.splits import SPLIT_IDS, jet_split
from tagformer.errors import DataError


@dataclass
class StreamSpec:
    """What to stream: files of one split (``fractions`` set when the split is carved from them)."""

    files: list[str]
    format: str
    split: str
    feature_set: str
    num_particles: int
    ordering: str
    batch_size: int
    shuffle: bool
    shuffle_buffer: int
    seed: int = 0
    chunk_size: int = 10_000
    fractions: dict[str, float] = field(default_factory=dict)
    max_jets: int | None = None
    num_workers: int = 0  # the loader's workers (the length of an epoch counts their batches)
    targets: list[str] = field(default_factory=list)  # per-jet targets to carry (jets with a NaN one dropped)


def work_units(files: list[str], format: str, chunk_size: int) -> list[tuple[int, int, int]]:
    """(file number, start, stop) units covering every file."""
    reader = get_reader(format)
    units = []
    for i, path in enumerate(files):
        n = reader.count(path)
        step = n if format == "quarkgluon" else chunk_size
        units += [(i, lo, min(lo + step, n)) for lo in range(0, n, max(step, 1))]
    return units


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class StreamingJetDataset(IterableDataset):
    """Yields :class:`LoaderJetBatch` objects (use ``DataLoader(ds, batch_size=None)``).

    ``len(dataset)`` is the exact number of batches one epoch yields in this process (over its
    ``spec.num_workers`` loader workers): every batch is full except each worker's last, and the jets of a
    worker are counted from the file sizes and the split hash without reading any jet. Being sized, the
    loader gives Lightning the steps per epoch (learning-rate schedule, progress) and needs no prefetching.
    Jets dropped for a NaN requested target (``spec.targets``) are only known once read: an epoch then
    yields that many jets fewer than counted.
    """

    def __init__(self, spec: StreamSpec):
        self.spec = spec
        self.units = work_units(spec.files, spec.format, spec.chunk_size)
        self.epoch = 0
        self._unit_counts: list[int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _unit_jets(self) -> list[int]:
        """Jets of the split in each work unit (cached; a carved split hashes the entry numbers only)."""
        if self._unit_counts is None:
            spec, counts = self.spec, []
            for file_no, start, stop in self.units:
                if spec.fractions:
                    entries = np.arange(start, stop, dtype=np.int64)
                    ids = jet_split((file_no << FILE_SHIFT) | entries, spec.fractions, spec.seed)
                    counts.append(int((ids == SPLIT_IDS[spec.split]).sum()))
                else:
                    counts.append(stop - start)
            self._unit_counts = counts
        return self._unit_counts

    def _cap(self, slot: int, slots: int) -> int | None:
        """The share of ``max_jets`` of one slot (None: no cap)."""
        if self.spec.max_jets is None:
            return None
        return self.spec.max_jets // slots + (1 if slot < self.spec.max_jets % slots else 0)

    def slot_jets(self, slot: int, slots: int) -> int:
        """Jets one slot (worker of a rank) yields per epoch."""
        n = sum(self._unit_jets()[slot::slots])
        cap = self._cap(slot, slots)
        return n if cap is None else min(n, cap)

    def batches(self, rank: int = 0, world: int = 1) -> int:
        """Batches one epoch yields on ``rank`` of ``world`` (over its loader workers)."""
        nw, bs = max(1, int(self.spec.num_workers)), self.spec.batch_size
        return sum(-(-self.slot_jets(rank * nw + w, world * nw) // bs) for w in range(nw))

    def __len__(self) -> int:
        return self.batches(*_rank_and_world())

    def _my_units(self) -> tuple[list[tuple[int, int, int]], int, int]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = _rank_and_world()
        slot, slots = rank * nw + wid, world * nw
        return self.units[slot::slots], slot, slots

    def _chunks(self, units) -> Iterator[JetArrays]:
        spec = self.spec
        for file_no, start, stop in units:
            for chunk in iter_chunks(spec.files[file_no], spec.format, spec.chunk_size, start, stop):
                if spec.fractions:
                    entries = np.arange(start, start + len(chunk), dtype=np.int64)
                    ids = jet_split((file_no << FILE_SHIFT) | entries, spec.fractions, spec.seed)
                    chunk = chunk.select(ids == SPLIT_IDS[spec.split])
                    start += len(entries)
                if len(chunk):
                    yield chunk

    def __iter__(self) -> Iterator[LoaderJetBatch]:
        spec = self.spec
        units, slot, slots = self._my_units()
        epoch, self.epoch = self.epoch, self.epoch + 1  # a plain loop reshuffles; set_epoch overrides
        rng = np.random.default_rng([spec.seed, epoch, slot, slots])
        if spec.shuffle:
            units = [units[i] for i in rng.permutation(len(units))]
        cap = self._cap(slot, slots)
        buffer: list[Prepared] = []
        held = seen = 0
        for chunk in self._chunks(units):
            if cap is not None:
                chunk = chunk.select(slice(0, cap - seen))
            seen += len(chunk)
            prepared = prepare(chunk, spec.feature_set, spec.num_particles, spec.ordering, rng, spec.targets)
            if len(prepared):
                buffer.append(prepared)
            held += len(prepared)
            if not spec.shuffle:
                yield from self._emit(buffer, None, final=False)
                held = sum(map(len, buffer))
            elif held > spec.shuffle_buffer:
                yield from self._emit(buffer, rng, final=False, keep=spec.shuffle_buffer)
                held = sum(map(len, buffer))
            if cap is not None and seen >= cap:
                break
        yield from self._emit(buffer, rng if spec.shuffle else None, final=True)

    def _emit(self, buffer: list[Prepared], rng: np.random.Generator | None, final: bool,
              keep: int = 0) -> Iterator[LoaderJetBatch]:
        """Emit batches from ``buffer`` (in place): full ones until at most ``keep`` jets remain (fewer when a
        full batch needs them), or, if ``final``, all of them (the last one possibly partial)."""
        if not buffer:
            return
        held = concat_prepared(buffer)
        n, bs = len(held), self.spec.batch_size
        order = rng.permutation(n) if rng is not None else np.arange(n)
        full = (n // bs) * bs
        n_out = n if final else (max(0, min(full, -(-(n - keep) // bs) * bs)) if keep else full)
        for lo in range(0, n_out, bs):
            part = held.take(order[lo:min(lo + bs, n_out)])
            yield batch_from_numpy(part.features, part.p4, part.mask, part.labels, part.jet, part.targets)
        rest = order[n_out:]
        buffer.clear()
        if len(rest):
            buffer.append(held.take(rest))


def sample_streaming(spec: StreamSpec, max_jets: int) -> Prepared:
    """Up to ``max_jets`` prepared jets of the split, taking chunks round-robin over its files (so that every
    file, and with one class per file every class, is represented)."""
    units = work_units(spec.files, spec.format, spec.chunk_size)
    by_file: dict[int, list] = {}
    for u in units:
        by_file.setdefault(u[0], []).append(u)
    ordered = [u for k in range(max(map(len, by_file.values()), default=0)) for v in by_file.values() if k < len(v)]
    ds = StreamingJetDataset(spec)
    parts, total, dropped = [], 0, 0
    rng = np.random.default_rng(spec.seed)
    for chunk in ds._chunks(ordered):
        chunk = chunk.select(slice(0, max_jets - total))
        prepared = prepare(chunk, spec.feature_set, spec.num_particles, spec.ordering, rng, spec.targets)
        dropped += prepared.stats.jets_dropped_nan_target
        if len(prepared):
            parts.append(prepared)
        total += len(prepared)
        if total >= max_jets:
            break
    if not parts and dropped:
        raise all_dropped_error(spec.targets, dropped, spec.files[0])
    if not parts:
        raise DataError(f"{spec.files[0] if spec.files else 'the data'}: the {spec.split} split received no jets "
                        "(too few jets for the split fractions?).")
    return concat_prepared(parts)
