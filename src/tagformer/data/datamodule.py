"""The one entry point training code uses: a typed :class:`DataConfig` and :class:`JetDataModule`."""

from __future__ import annotations

import lightning
import numpy as np
import pydantic
import torch
from pydantic import ConfigDict
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler

from tagformer.data.batch import JetBatch
from tagformer.data.collate import keep_batch
from tagformer.data.config import DataConfig
from tagformer.data.dataset import InMemoryJetDataset, JetBatchSampler
from tagformer.data.features import FEATURE_SETS, feature_names
from tagformer.data.formats import FILE_SHIFT, FORMATS, detect_format, get_reader, read_files
from tagformer.data.info import DatasetInfo
from tagformer.data.normalise import Normaliser
from tagformer.data.orderings import ORDERINGS
from tagformer.data.pipeline import Prepared, TruncationStats, concat_prepared, prepare
from tagformer.data.splits import SPLIT_IDS, SplitPlan, jet_split, plan_splits
from tagformer.data.streaming import StreamingJetDataset, StreamSpec, fit_normaliser_streaming
from tagformer.errors import ConfigError, DataError


class JetDataModule(lightning.LightningDataModule):
    """Reads a dataset once, fits the normalisation on its training split, and serves :class:`JetBatch`.

    Parameters
    ----------
    config : DataConfig
    normaliser_state : dict, optional
        A state from :meth:`normaliser_state` of a previous run, re-applied instead of fitting.
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
        self._names = feature_names(config.feature_set)
        self._plan: SplitPlan | None = None
        self._format: str | None = None
        self._normaliser = None if normaliser_state is None else Normaliser.from_state(normaliser_state)
        if self._normaliser is not None:
            self._normaliser.check_compatible(config.feature_set, self._names)
        self._prepared: dict[str, Prepared] = {}
        self._datasets: dict[str, torch.utils.data.Dataset] = {}
        self._stats: dict[str, TruncationStats] = {}

    # -- resolution (cheap: no jets read) ---------------------------------------------------------
    def _resolve(self) -> tuple[SplitPlan, str]:
        if self._plan is None:
            c = self.config
            plan = plan_splits(c.path, c.val_path, c.test_path, c.val_fraction, c.test_fraction)
            fmt = c.format or detect_format(plan.files["train"])
            for split, files in plan.files.items():
                other = c.format or detect_format(files)
                if other != fmt:
                    raise DataError(f"{files[0]}: {split} split is {other} but the training split is {fmt}.")
            self._plan, self._format = plan, fmt
        return self._plan, self._format

    @property
    def info(self) -> DatasetInfo:
        _, fmt = self._resolve()
        classes = list(get_reader(fmt).CLASS_NAMES)
        c = self.config
        return DatasetInfo(format=fmt, class_names=classes, num_classes=len(classes),
                           in_features=len(self._names), num_particles=c.num_particles,
                           feature_names=list(self._names), feature_set=c.feature_set, ordering=c.ordering,
                           truncation={k: v.as_dict() for k, v in self._stats.items()})

    # -- in memory ----------------------------------------------------------------------------------
    def _read_prepare(self, files: list[str], fmt: str, splits: tuple[str, ...],
                      fractions: dict[str, float]) -> None:
        """Read ``files`` one at a time, assign jets to ``splits`` (by hash when ``fractions``), prepare each
        file's share and keep only the prepared arrays (peak memory ~ one raw file + prepared data)."""
        c = self.config
        rngs = {s: np.random.default_rng([c.seed, SPLIT_IDS[s]]) for s in splits}
        parts: dict[str, list[Prepared]] = {s: [] for s in splits}
        counts = dict.fromkeys(splits, 0)
        for file_no, path in enumerate(files):
            if c.max_jets is not None and counts[splits[0]] >= c.max_jets:
                break  # the first split (train when read) is full; carved splits keep their share
            stop = None if fractions or c.max_jets is None else c.max_jets - counts[splits[0]]
            arrays = read_files([path], fmt, stop)
            ids = None
            if fractions:
                ids = jet_split((file_no << FILE_SHIFT) | np.arange(len(arrays), dtype=np.int64), fractions,
                                c.seed)
            for s in splits:
                share = arrays if ids is None else arrays.select(np.flatnonzero(ids == SPLIT_IDS[s]))
                if c.max_jets is not None:
                    share = share.select(slice(0, c.max_jets - counts[s]))
                if len(share):
                    parts[s].append(prepare(share, c.feature_set, c.num_particles, c.ordering, rngs[s]))
                    counts[s] += len(share)
        for s in splits:
            if not parts[s]:
                raise DataError(f"{files[0]}: the {s} split received no jets (too few jets for the split "
                                "fractions?).")
            self._prepared[s] = concat_prepared(parts[s])
            self._stats[s] = self._prepared[s].stats

    def _load_in_memory(self, wanted: set[str]) -> None:
        plan, fmt = self._resolve()
        base = wanted | ({"train"} if self._normaliser is None else set())
        need = {s for s in base if s not in self._prepared}
        if "train" in need or set(plan.fractions) & need:
            splits = tuple(s for s in ("train", *plan.fractions) if s not in self._prepared)
            self._read_prepare(plan.files["train"], fmt, splits, dict(plan.fractions))
        for split in sorted(need - set(self._prepared)):
            self._read_prepare(plan.files[split], fmt, (split,), {})

    # -- Lightning hooks ----------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": {"train", "val"}, "validate": {"val"}, "test": {"test"},
                  "predict": {"test"}}.get(stage or "", {"train", "val", "test"})
        c = self.config
        plan, _ = self._resolve()
        wanted = {s for s in wanted if plan.has(s)}
        if c.streaming:
            self._setup_streaming(wanted)
            return
        self._load_in_memory(wanted)
        if self._normaliser is None:
            train = self._prepared["train"]
            self._normaliser = Normaliser.fit(train.features, train.mask, c.feature_set, self._names)
        for split in wanted:
            if split not in self._datasets:
                self._datasets[split] = InMemoryJetDataset(self._prepared[split], self._normaliser)

    def _spec(self, split: str) -> StreamSpec:
        plan, fmt = self._resolve()
        c = self.config
        files = plan.files[split] if split in plan.files else plan.files["train"]
        carve = split not in plan.files or (split == "train" and bool(plan.fractions))
        return StreamSpec(files=files, format=fmt, split=split, feature_set=c.feature_set,
                          num_particles=c.num_particles, ordering=c.ordering, batch_size=c.batch_size,
                          shuffle=split == "train", shuffle_buffer=c.shuffle_buffer, seed=c.seed,
                          chunk_size=min(10_000, c.shuffle_buffer),
                          fractions=dict(plan.fractions) if carve else {}, max_jets=c.max_jets)

    def _setup_streaming(self, wanted: set[str]) -> None:
        if self._normaliser is None:
            self._normaliser = fit_normaliser_streaming(self._spec("train"), self._names,
                                                        min(self.config.shuffle_buffer, 100_000))
        for split in wanted:
            if split not in self._datasets:
                self._datasets[split] = StreamingJetDataset(self._spec(split), self._normaliser)

    def normaliser_state(self) -> dict:
        """JSON-serialisable normalisation fitted on the training split (fits it if needed)."""
        if self._normaliser is None:
            self.setup("fit")
        return self._normaliser.state_dict()

    def _loader(self, split: str) -> DataLoader | list:
        if not self._resolve()[0].has(split):
            return []  # e.g. val_fraction=0 and no val files: Lightning skips the loop
        if split not in self._datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        ds, c = self._datasets[split], self.config
        common = dict(collate_fn=keep_batch, num_workers=c.num_workers, pin_memory=torch.cuda.is_available())
        if isinstance(ds, StreamingJetDataset):
            return DataLoader(ds, batch_size=None, **common)
        if split == "train":
            gen = torch.Generator().manual_seed(c.seed)
            sampler = JetBatchSampler(RandomSampler(ds, generator=gen), c.batch_size, drop_last=False)
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
