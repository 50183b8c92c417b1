"""The one entry point training code uses: :class:`JetDataModule` over a typed :class:`DataConfig`.

Batches carry **raw** features (padded slots 0): standardisation belongs to the model
(:class:`~tagformer.models.input_norm.InputNorm`). The data module still fits that standardisation on the
real particles of the training split (:meth:`JetDataModule.normaliser_state`), for the run to copy into
the model and save as ``normaliser.json``.

The training order of epoch ``e`` is a function of (``seed``, ``e``) (and, when streaming, of the number of
loader workers): :meth:`JetDataModule.set_epoch` sets it, and a loader built for a resumed run starts at
the trainer's current epoch, so an epoch-boundary resume replays exactly what an uninterrupted run sees.

A batch schedule (:meth:`JetDataModule.set_batch_schedule`, ``trainer.batch_schedule``) changes the training
batch size by epoch; the training loader is then rebuilt every epoch (the trainer reloads it), and the
batches of epoch ``e`` are consecutive slices of that epoch's order of the epoch's size, so a resumed run
again sees what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import lightning
import numpy as np
import torch
from torch.utils.data import DataLoader, SequentialSampler

from tagformer.data.batch import JetBatch
from tagformer.data.collate import keep_batch
from tagformer.data.config import DataConfig
from tagformer.data.dataset import EpochShuffle, InMemoryJetDataset, JetBatchSampler
from tagformer.data.features import FEATURE_SETS, feature_names
from tagformer.data.formats import FILE_SHIFT, FORMATS, detect_format, get_reader, read_files
from tagformer.data.info import DatasetInfo
from tagformer.data.labels import label_subset
from tagformer.data.normalise import Normaliser
from tagformer.data.orderings import ORDERINGS
from tagformer.data.pipeline import Prepared, TruncationStats, concat_prepared, prepare, report_nan_drops
from tagformer.data.splits import SPLIT_IDS, SplitPlan, jet_split, plan_splits
from tagformer.data.streaming import StreamingJetDataset, StreamSpec, sample_streaming
from tagformer.errors import ConfigError, DataError

__all__ = ["DataConfig", "DataPlan", "JetDataModule"]

#: Seeds numpy's generators accept (``data.seed`` seeds the split hash and the shuffles).
MAX_SEED = 2**32 - 1
#: Splits each Lightning stage needs (read-only).
STAGE_SPLITS = MappingProxyType({"fit": ("train", "val"), "validate": ("val",), "test": ("test",),
                                 "predict": ("test",)})


@dataclass(frozen=True)
class DataPlan:
    """Where each split comes from and what the files are: decided once per data module (no jets read).

    Attributes
    ----------
    splits : files per split and the fractions carved from the training files.
    format : reader name (one for every split).
    class_names : label order of the reader.
    """

    splits: SplitPlan
    format: str
    class_names: tuple[str, ...]

    @classmethod
    def resolve(cls, c: DataConfig) -> DataPlan:
        """Find the files of every split and their format; DataError if the splits disagree."""
        splits = plan_splits(c.path, c.val_path, c.test_path, c.val_fraction, c.test_fraction)
        fmt = c.format or detect_format(splits.files["train"])
        for split, files in splits.files.items():
            other = c.format or detect_format(files)
            if other != fmt:
                raise DataError(f"{files[0]}: {split} split is {other} but the training split is {fmt}.")
        return cls(splits, fmt, tuple(get_reader(fmt).CLASS_NAMES))


class JetDataModule(lightning.LightningDataModule):
    """Reads a dataset once and serves :class:`JetBatch` objects of raw features.

    The split plan is resolved once (first use) and each split is prepared once, whichever of
    :meth:`setup`, the loaders or :meth:`normaliser_state` asks first.

    Parameters
    ----------
    config : DataConfig
    normaliser_state : dict, optional
        A state from :meth:`normaliser_state` of a previous run, kept instead of fitting one (so the
        training split need not be read).
    """

    def __init__(self, config: DataConfig, normaliser_state: dict | None = None):
        super().__init__()
        self.config = config
        if config.format is not None and config.format not in FORMATS:
            raise ConfigError(f"unknown data format '{config.format}'; choose one of {', '.join(FORMATS)}.")
        if config.feature_set not in FEATURE_SETS:
            raise ConfigError(f"unknown feature set '{config.feature_set}'; choose one of "
                              f"{', '.join(FEATURE_SETS)}.")
        if config.ordering not in ORDERINGS:
            raise ConfigError(f"unknown ordering '{config.ordering}'; choose one of {', '.join(ORDERINGS)}.")
        if not 0 <= config.seed <= MAX_SEED:
            raise ConfigError(f"data.seed must be in [0, {MAX_SEED}], got {config.seed}.")
        self._names = feature_names(config.feature_set)
        self._plan: DataPlan | None = None
        self._normaliser = None if normaliser_state is None else Normaliser.from_state(normaliser_state)
        if self._normaliser is not None:
            self._normaliser.check_compatible(config.feature_set, self._names)
        self._prepared: dict[str, Prepared] = {}
        self._specs: dict[str, StreamSpec] = {}
        self._datasets: dict[str, torch.utils.data.Dataset] = {}
        self._stats: dict[str, TruncationStats] = {}
        self._train_sampler: EpochShuffle | None = None
        self._train_labels: np.ndarray | None = None  # labels seen in the training split (or a sample of it)
        self.batch_schedule: dict[int, int] | None = None

    # -- what the data are (cheap: no jets read) --------------------------------------------------
    @property
    def plan(self) -> DataPlan:
        """The split plan and format, resolved on first use and kept."""
        if self._plan is None:
            self._plan = DataPlan.resolve(self.config)
        return self._plan

    @property
    def info(self) -> DatasetInfo:
        plan, c = self.plan, self.config
        return DatasetInfo(format=plan.format, class_names=list(plan.class_names),
                           num_classes=len(plan.class_names), in_features=len(self._names),
                           num_particles=c.num_particles, feature_names=list(self._names),
                           feature_set=c.feature_set, ordering=c.ordering,
                           truncation={k: v.as_dict() for k, v in self._stats.items()})

    # -- in memory ----------------------------------------------------------------------------------
    def _read_prepare(self, files: list[str], feeds: tuple[str, ...], keep: set[str],
                      fractions: dict[str, float]) -> None:
        """Read ``files`` one at a time, assign jets to the splits they ``feeds`` (by hash when ``fractions``),
        prepare the shares of the splits in ``keep`` and keep only those arrays (peak memory ~ one raw file
        + prepared data). Every fed split is counted, prepared or not, so ``max_jets`` stops reading at the
        same file whichever splits are kept: a split holds the same jets in every command."""
        c = self.config
        rngs = {s: np.random.default_rng([c.seed, SPLIT_IDS[s]]) for s in keep}
        parts: dict[str, list[Prepared]] = {s: [] for s in keep}
        counts = dict.fromkeys(feeds, 0)
        for file_no, path in enumerate(files):
            if c.max_jets is not None and counts[feeds[0]] >= c.max_jets:
                break  # the first split (train when carved) is full; carved splits keep their share
            stop = None if fractions or c.max_jets is None else c.max_jets - counts[feeds[0]]
            arrays = read_files([path], self.plan.format, stop)
            ids = None
            if fractions:
                ids = jet_split((file_no << FILE_SHIFT) | np.arange(len(arrays), dtype=np.int64), fractions,
                                c.seed)
            for s in feeds:
                share = arrays if ids is None else arrays.select(np.flatnonzero(ids == SPLIT_IDS[s]))
                if c.max_jets is not None:
                    share = share.select(slice(0, c.max_jets - counts[s]))
                if len(share) and s in keep:
                    parts[s].append(prepare(share, c.feature_set, c.num_particles, c.ordering, rngs[s], c.targets))
                counts[s] += len(share)
        for s in keep:
            if not parts[s]:
                raise DataError(f"{files[0]}: the {s} split received no jets (too few jets for the split "
                                "fractions?).")
            self._prepared[s] = concat_prepared(parts[s])
            self._stats[s] = self._prepared[s].stats
            report_nan_drops(s, self._stats[s])
            if s == "train" and c.label_fraction < 1.0:  # few-label training: a fixed class-balanced subset
                self._prepared[s] = self._prepared[s].take(label_subset(self._prepared[s].labels, c.label_fraction,
                                                                        c.seed))

    def _load_in_memory(self, need: set[str]) -> None:
        """Prepare the splits in ``need``: one pass over the training files for it and the carved splits."""
        splits = self.plan.splits
        carved = need & ({"train"} | set(splits.fractions))
        if carved:
            self._read_prepare(splits.files["train"], ("train", *splits.fractions), carved,
                               dict(splits.fractions))
        for split in sorted(need - carved):
            self._read_prepare(splits.files[split], (split,), {split}, {})

    # -- streaming ----------------------------------------------------------------------------------
    def _spec(self, split: str) -> StreamSpec:
        if split not in self._specs:
            splits, c = self.plan.splits, self.config
            files = splits.files[split] if split in splits.files else splits.files["train"]
            carve = split not in splits.files or (split == "train" and bool(splits.fractions))
            self._specs[split] = StreamSpec(
                files=files, format=self.plan.format, split=split, feature_set=c.feature_set,
                num_particles=c.num_particles, ordering=c.ordering, batch_size=c.batch_size,
                shuffle=split == "train", shuffle_buffer=c.shuffle_buffer, seed=c.seed,
                chunk_size=min(10_000, c.shuffle_buffer), fractions=dict(splits.fractions) if carve else {},
                max_jets=c.max_jets, num_workers=c.num_workers, targets=list(c.targets))
        return self._specs[split]

    # -- preparing splits ---------------------------------------------------------------------------
    def _ensure(self, splits: tuple[str, ...] | set[str]) -> None:
        """Build the datasets of ``splits`` not built yet (splits the plan does not have stay absent)."""
        need = {s for s in splits if self.plan.splits.has(s) and s not in self._datasets}
        if not need:
            return
        if self.config.streaming:
            if self.config.label_fraction < 1.0:
                raise ConfigError("data.label_fraction < 1 needs the in-memory loader (the class-balanced subset "
                                  "is drawn over the whole training split); set data.streaming=false")
            for split in need:
                self._datasets[split] = StreamingJetDataset(self._spec(split))
            return
        self._load_in_memory(need)
        for split in need:
            self._datasets[split] = InMemoryJetDataset(self._prepared[split])

    def setup(self, stage: str | None = None) -> None:
        """Prepare the splits of ``stage`` (all three when None); a split already prepared is kept."""
        self._ensure(STAGE_SPLITS.get(stage or "", ("train", "val", "test")))

    @property
    def normaliser(self) -> Normaliser:
        """The feature standardisation: the one given, else fitted on the training split's real particles."""
        if self._normaliser is None:
            if self.config.streaming:
                sample = sample_streaming(self._spec("train"), min(self.config.shuffle_buffer, 100_000))
                self._train_labels = np.unique(sample.labels)
                self._normaliser = Normaliser.fit(sample.features, sample.mask, self.config.feature_set,
                                                  self._names, self.config.normalisation)
            else:
                self._ensure(("train",))
                train = self._prepared["train"]
                self._normaliser = Normaliser.fit(train.features, train.mask, self.config.feature_set,
                                                  self._names, self.config.normalisation)
        return self._normaliser

    def normaliser_state(self) -> dict:
        """JSON-serialisable state of :attr:`normaliser` (fits it if needed)."""
        return self.normaliser.state_dict()

    def train_targets(self, max_jets: int = 200_000) -> dict[str, np.ndarray]:
        """The training split's named per-jet targets (``data.targets``): all of them in memory, up to
        ``max_jets`` of a streaming sample otherwise (for target standardisation)."""
        if self.config.streaming:
            part = sample_streaming(self._spec("train"), max_jets)
        else:
            self._ensure(("train",))
            part = self._prepared["train"]
        return dict(part.targets or {})

    def train_classes(self) -> list[int] | None:
        """Labels present in the training split (in memory: all of it; streaming: the sample the normaliser
        was fitted on); None when unknown (streaming with a given normaliser, nothing read)."""
        if not self.config.streaming:
            self._ensure(("train",))
            return np.unique(self._prepared["train"].labels).tolist()
        return None if self._train_labels is None else self._train_labels.tolist()

    # -- batch schedule -----------------------------------------------------------------------------
    def set_batch_schedule(self, schedule: dict[int, int] | None) -> None:
        """Train with batch size ``schedule[k]`` from epoch ``k`` on (``{first_epoch: batch_size}``; epochs
        before the first key use ``data.batch_size``); None: ``data.batch_size`` throughout. In memory only."""
        if schedule and self.config.streaming:
            raise ConfigError("trainer.batch_schedule needs in-memory data (data.streaming=false): a streaming "
                              "split is read in batches of data.batch_size")
        self.batch_schedule = dict(sorted((int(k), int(v)) for k, v in schedule.items())) if schedule else None

    def batch_size_for_epoch(self, epoch: int) -> int:
        """The training batch size of ``epoch`` (the schedule's last entry at or before it)."""
        size = self.config.batch_size
        for first, value in (self.batch_schedule or {}).items():
            if epoch >= first:
                size = value
        return size

    def batches_per_epoch(self, split: str = "train", rank: int = 0, world: int = 1, epoch: int | None = None) -> int:
        """Batches of ``split`` per epoch on ``rank`` of ``world`` processes, counted without building a loader
        (in memory: as Lightning's distributed sampler splits the jets; streaming: exact, see
        :class:`~tagformer.data.streaming.StreamingJetDataset`); 0 for a split the plan lacks. ``epoch``: the
        training epoch whose batch size counts (with a batch schedule); None: ``data.batch_size``."""
        if not self.plan.splits.has(split):
            return 0
        self._ensure((split,))
        ds = self._datasets[split]
        bs = self.batch_size_for_epoch(epoch) if split == "train" and epoch is not None else self.config.batch_size
        if isinstance(ds, StreamingJetDataset):
            return ds.batches(rank, world)
        per_rank = -(-len(ds) // world) if world > 1 else len(ds)
        return -(-per_rank // bs)

    def train_batches_per_epoch(self, rank: int = 0, world: int = 1, epoch: int | None = None) -> int:
        """:meth:`batches_per_epoch` of the training split (what the learning-rate schedule counts)."""
        return self.batches_per_epoch("train", rank, world, epoch)

    # -- epochs -------------------------------------------------------------------------------------
    def _start_epoch(self) -> int:
        """The epoch a loader built now starts at: the epoch Lightning runs next (a resumed run's, restored
        from its checkpoint; the number it passes to ``set_epoch``), else 0."""
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0
        loop = getattr(trainer, "fit_loop", None)
        return int(loop.epoch_progress.current.processed) if loop is not None else int(trainer.current_epoch)

    def set_epoch(self, epoch: int) -> None:
        """Make the training loader's next pass draw the order of ``epoch`` (called at each epoch start)."""
        ds = self._datasets.get("train")
        if isinstance(ds, StreamingJetDataset):
            ds.set_epoch(epoch)
        elif self._train_sampler is not None:
            self._train_sampler.set_epoch(epoch)

    # -- loaders ------------------------------------------------------------------------------------
    def _loader(self, split: str) -> DataLoader | list:
        if not self.plan.splits.has(split):
            return []  # e.g. val_fraction=0 and no val files: Lightning skips the loop
        self._ensure((split,))
        ds, c = self._datasets[split], self.config
        common = dict(collate_fn=keep_batch, num_workers=c.num_workers, pin_memory=torch.cuda.is_available())
        if isinstance(ds, StreamingJetDataset):
            if split == "train" and getattr(self, "trainer", None) is not None:
                ds.set_epoch(self._start_epoch())
            return DataLoader(ds, batch_size=None, **common)
        if split == "train":
            epoch = self._start_epoch()
            self._train_sampler = EpochShuffle(ds, c.seed, epoch=epoch)
            sampler = JetBatchSampler(self._train_sampler, self.batch_size_for_epoch(epoch), drop_last=False)
        else:
            sampler = JetBatchSampler(SequentialSampler(ds), c.batch_size, drop_last=False)
        return DataLoader(ds, batch_sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader | list:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._loader("test")

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """Move a :class:`JetBatch` (every tensor field) to ``device``."""
        if isinstance(batch, JetBatch):
            return batch.to(device, non_blocking=True)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)
