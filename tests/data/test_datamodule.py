"""JetDataModule: in-memory and streaming paths, splits, normalisation state, device transfer."""

from __future__ import annotations

import json

import lightning
import numpy as np
import pytest
import torch

from tagformer.data import DataConfig, JetBatch, JetDataModule
from tagformer.data.collate import LoaderJetBatch, collate_jets
from tagformer.data.normalise import Normaliser
from tagformer.errors import ConfigError, DataError
from tagformer.models.input_norm import InputNorm


def _jet_ids(batches) -> np.ndarray:
    """An identifier per jet: its leading particle's px and pz (written distinct by the writers)."""
    return np.concatenate([np.round(b.p4[:, 0, 0].numpy().astype(np.float64) * 1e3 + b.p4[:, 0, 2].numpy(), 2)
                           for b in batches])


@pytest.fixture
def hls_dir(tmp_path, writers):
    for i in range(3):
        writers.hls4ml(str(tmp_path / f"jets_{i}.h5"), n=40, p=30, seed=i)
    return tmp_path


def test_in_memory_batches_and_info(hls_dir):
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=16, batch_size=8))
    info = dm.info
    assert (info.format, info.num_classes, info.in_features, info.num_particles) == ("hls4ml", 5, 3, 16)
    assert info.feature_names == ["pt", "deta", "dphi"]
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert all(isinstance(b, JetBatch) for b in batches)
    b = batches[0].validate()
    assert b.features.shape == (8, 16, 3) and b.p4.shape == (8, 16, 4) and b.labels.dtype == torch.int64
    assert b.jet is not None and b.jet.shape == (8, 53)
    raw = torch.cat([x.features[x.mask] for x in batches])
    assert raw[:, 0].mean() > 10  # raw pT in GeV: the model standardises, not the loader
    assert all((x.features[~x.mask] == 0).all() for x in batches)
    norm = InputNorm(info.in_features)
    state = dm.normaliser_state()
    norm.set_stats(state["mean"], state["std"])
    feats = torch.cat([norm(x.features, x.mask)[x.mask] for x in batches])
    assert feats.mean(0).abs().max() < 1e-3 and (feats.std(0) - 1).abs().max() < 1e-2
    assert dm.info.truncation["train"]["particles_dropped"] > 0


@pytest.mark.parametrize("streaming", [False, True])
def test_raw_features_through_input_norm_equal_the_old_normalised_inputs(hls_dir, streaming):
    """Loaders used to yield ``Normaliser.apply(features, mask)``; they now yield the raw features and the
    model's InputNorm, holding the same statistics, must give exactly those inputs."""
    dm = JetDataModule(DataConfig(path=str(hls_dir), feature_set="part_kin", num_particles=16, batch_size=8,
                                  streaming=streaming, shuffle_buffer=30))
    normaliser = Normaliser.from_state(dm.normaliser_state())
    norm = InputNorm(len(normaliser.mean))
    norm.set_stats(normaliser.mean, normaliser.std)
    checked = 0
    for batch in dm.val_dataloader():
        old = normaliser.apply(batch.features.numpy(), batch.mask.numpy())
        new = norm(batch.features, batch.mask)
        assert torch.equal(new, torch.from_numpy(old))
        checked += len(batch)
    assert checked > 0


def test_data_plan_is_resolved_once(hls_dir, monkeypatch):
    import tagformer.data.datamodule as datamodule

    calls = []
    real = datamodule.plan_splits
    monkeypatch.setattr(datamodule, "plan_splits", lambda *a: calls.append(a) or real(*a))
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=16))
    assert dm.info.num_classes == 5
    dm.setup("fit")
    dm.normaliser_state()
    dm.setup("fit")  # Lightning calls it again: nothing is read or resolved twice
    list(dm.train_dataloader()), list(dm.val_dataloader()), list(dm.test_dataloader())
    assert len(calls) == 1
    assert set(dm.info.truncation) == {"train", "val", "test"}


def test_a_carved_test_split_is_the_same_alone_or_with_training(hls_dir):
    """Reading only the test split (evaluation) gives the jets it held when training read every split."""
    cfg = DataConfig(path=str(hls_dir), num_particles=30, batch_size=16, max_jets=50)
    full = JetDataModule(cfg)
    full.setup()
    alone = JetDataModule(cfg, normaliser_state=full.normaliser_state())
    alone.setup("test")
    assert set(alone.info.truncation) == {"test"}  # the training split was not prepared
    np.testing.assert_array_equal(_jet_ids(alone.test_dataloader()), _jet_ids(full.test_dataloader()))


def test_named_targets_travel_with_the_batches(hls_dir):
    from tagformer.data.dataset import InMemoryJetDataset

    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=4))
    dm.setup("fit")
    prepared = dm._prepared["val"]
    prepared.targets = {"mass": np.arange(len(prepared), dtype=np.float32)}
    batch = InMemoryJetDataset(prepared)[[3, 1]].validate()
    assert torch.equal(batch.targets["mass"], torch.tensor([3.0, 1.0]))
    both = collate_jets([batch, batch.select(slice(0, 1))])
    assert torch.equal(both.targets["mass"], torch.tensor([3.0, 1.0, 3.0]))
    assert isinstance(both, LoaderJetBatch) and both.to("meta").targets["mass"].device.type == "meta"


def test_splits_disjoint_cover_everything_and_match_streaming(hls_dir):
    cfg = dict(path=str(hls_dir), num_particles=30, batch_size=16, val_fraction=0.2, test_fraction=0.2)
    mem = JetDataModule(DataConfig(**cfg))
    mem.setup()
    ids = {s: _jet_ids(getattr(mem, f"{s}_dataloader")()) for s in ("train", "val", "test")}
    allids = np.concatenate(list(ids.values()))
    assert len(allids) == 120 and len(np.unique(allids)) == 120
    assert len(ids["val"]) > 10 and len(ids["test"]) > 10
    stream = JetDataModule(DataConfig(**cfg, streaming=True, shuffle_buffer=30), mem.normaliser_state())
    stream.setup()
    for split in ("train", "val", "test"):
        got = _jet_ids(getattr(stream, f"{split}_dataloader")())
        np.testing.assert_array_equal(np.sort(got), np.sort(ids[split]))
    # val streams in file order; same jets, same (raw) features as in memory
    mv = next(iter(mem.val_dataloader()))
    sv = next(iter(stream.val_dataloader()))
    torch.testing.assert_close(mv.features, sv.features)


def test_streaming_workers_do_not_duplicate(hls_dir):
    cfg = DataConfig(path=str(hls_dir), num_particles=16, batch_size=7, streaming=True, shuffle_buffer=20,
                     num_workers=2, val_fraction=0.0, test_fraction=0.0)
    dm = JetDataModule(cfg)
    dm.setup("fit")
    ids = _jet_ids(dm.train_dataloader())
    assert len(ids) == 120 and len(np.unique(ids)) == 120


def test_streaming_shuffles_per_epoch_and_respects_max_jets(hls_dir):
    cfg = DataConfig(path=str(hls_dir), num_particles=16, batch_size=10, streaming=True, shuffle_buffer=25,
                     val_fraction=0.0, test_fraction=0.0)
    dm = JetDataModule(cfg)
    dm.setup("fit")
    loader = dm.train_dataloader()
    e1, e2 = _jet_ids(loader), _jet_ids(loader)
    assert sorted(e1) == sorted(e2) and not np.array_equal(e1, e2)
    capped = JetDataModule(cfg.model_copy(update={"max_jets": 33}))
    capped.setup("fit")
    assert sum(len(b) for b in capped.train_dataloader()) == 33


def test_normaliser_state_reapplied(hls_dir, tmp_path):
    dm = JetDataModule(DataConfig(path=str(hls_dir), feature_set="part_kin", num_particles=16))
    state = json.loads(json.dumps(dm.normaliser_state()))
    assert state["feature_set"] == "part_kin" and len(state["mean"]) == 7
    other = JetDataModule(DataConfig(path=str(hls_dir / "jets_0.h5"), feature_set="part_kin",
                                     num_particles=16), normaliser_state=state)
    other.setup("test")
    assert other.normaliser_state() == state
    with pytest.raises(DataError, match="fitted for feature set"):
        JetDataModule(DataConfig(path=str(hls_dir)), normaliser_state=state)


def test_published_test_split_streams_whole_files(tmp_path, writers):
    for split, seed in (("train", 0), ("val", 1), ("test", 2)):
        writers.top(str(tmp_path / f"{split}.h5"), n=15, seed=seed)
    dm = JetDataModule(DataConfig(path=str(tmp_path), num_particles=20, batch_size=4, max_jets=10))
    dm.setup()
    assert dm.info.format == "toptagging" and dm.info.class_names == ["QCD", "top"]
    assert sum(len(b) for b in dm.test_dataloader()) == 10
    assert sum(len(b) for b in dm.val_dataloader()) == 10


def test_config_errors(hls_dir):
    with pytest.raises(Exception, match="extra"):
        DataConfig(path="x", bogus=1)
    with pytest.raises(ConfigError, match="unknown data format"):
        JetDataModule(DataConfig(path=str(hls_dir), format="csv"))
    with pytest.raises(ConfigError, match="unknown feature set"):
        JetDataModule(DataConfig(path=str(hls_dir), feature_set="abc"))
    with pytest.raises(ConfigError, match="unknown ordering"):
        JetDataModule(DataConfig(path=str(hls_dir), ordering="phi"))
    dm = JetDataModule(DataConfig(path=str(hls_dir), feature_set="part_full"))
    with pytest.raises(DataError, match=r"part_full.*hls4ml format"):
        dm.setup("fit")


def test_transfer_batch_to_device_and_collate(hls_dir):
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=4))
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    moved = dm.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert isinstance(moved, JetBatch)
    assert all(t.device.type == "meta" for t in (moved.features, moved.p4, moved.mask, moved.labels, moved.jet))
    both = collate_jets([batch, batch])
    assert isinstance(both, LoaderJetBatch) and len(both) == 2 * len(batch)
    assert callable(getattr(batch, "pin_memory", None))


class _TinyModule(lightning.LightningModule):
    def __init__(self, in_features: int, classes: int):
        super().__init__()
        self.net = torch.nn.Linear(in_features, classes)

    def training_step(self, batch: JetBatch, _):
        assert isinstance(batch, JetBatch)
        pooled = (batch.features * batch.mask[..., None]).sum(1)
        return torch.nn.functional.cross_entropy(self.net(pooled), batch.labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_lightning_fit_consumes_jetbatch(hls_dir):
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=16))
    info = dm.info
    trainer = lightning.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(_TinyModule(info.in_features, info.num_classes), datamodule=dm)
    assert trainer.global_step == 3


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_pinned_batches_reach_the_gpu(hls_dir):
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=16))
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.pin_memory
    batch = next(iter(loader))
    assert batch.features.is_pinned() and batch.mask.is_pinned()
    moved = dm.transfer_batch_to_device(batch, torch.device("cuda"), 0)
    assert moved.features.is_cuda and moved.labels.is_cuda


def test_zero_fraction_means_no_split(hls_dir):
    for streaming in (False, True):
        dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, val_fraction=0.0, test_fraction=0.0,
                                      streaming=streaming, shuffle_buffer=50))
        dm.setup()
        assert dm.val_dataloader() == [] and dm.test_dataloader() == []
        assert sum(len(b) for b in dm.train_dataloader()) == 120


def test_streaming_jetclass_part_full(tmp_path, writers):
    writers.jetclass(str(tmp_path / "TTBar_000.root"), n=30, seed=0)
    writers.jetclass(str(tmp_path / "ZJetsToNuNu_000.root"), n=30, seed=1)
    dm = JetDataModule(DataConfig(path=str(tmp_path), feature_set="part_full", num_particles=32, batch_size=16,
                                  streaming=True, shuffle_buffer=20, val_fraction=0.2, test_fraction=0.0))
    info = dm.info
    assert (info.format, info.num_classes, info.in_features) == ("jetclass", 10, 17)
    dm.setup("fit")
    train = list(dm.train_dataloader())
    val = list(dm.val_dataloader())
    assert sum(map(len, train)) + sum(map(len, val)) == 60
    assert train[0].features.shape[1:] == (32, 17) and train[0].jet.shape[1] == 10
    assert all(torch.isfinite(b.features).all() for b in train)


def test_lightning_can_swap_in_a_distributed_sampler(hls_dir):
    from lightning.pytorch.utilities.data import _update_dataloader
    from torch.utils.data import DistributedSampler

    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, batch_size=10, val_fraction=0.0,
                                  test_fraction=0.0))
    dm.setup("fit")
    loader = dm.train_dataloader()
    halves = []
    for rank in (0, 1):
        sampler = DistributedSampler(loader.dataset, num_replicas=2, rank=rank, shuffle=True, seed=0)
        ddp = _update_dataloader(loader, sampler)
        batches = list(ddp)
        assert all(isinstance(b, JetBatch) for b in batches) and len(batches[0]) == 10
        halves.append(_jet_ids(batches))
    assert len(np.union1d(*halves)) == 120 and len(halves[0]) == len(halves[1]) == 60


@pytest.mark.parametrize(("workers", "max_jets", "buffer", "batch"), [(0, None, 20, 7), (2, None, 20, 7),
                                                                      (0, 33, 5, 10), (2, 50, 25, 8)])
def test_streaming_epoch_length_is_exact(hls_dir, workers, max_jets, buffer, batch):
    """The loader is sized (Lightning's schedule and progress need it) and yields exactly that many batches:
    every batch full but each worker's last; a carved split counted from the hash alone."""
    cfg = DataConfig(path=str(hls_dir), num_particles=16, batch_size=batch, streaming=True, shuffle_buffer=buffer,
                     num_workers=workers, val_fraction=0.2, test_fraction=0.1, max_jets=max_jets)
    dm = JetDataModule(cfg)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batches = list(loader)
    assert len(batches) == len(loader) == dm.train_batches_per_epoch()
    assert sum(len(b) < batch for b in batches) <= max(workers, 1)
    mem = JetDataModule(cfg.model_copy(update={"streaming": False}))
    mem.setup("fit")
    n_train = sum(map(len, batches))
    if max_jets is None:  # the same jets as in memory
        assert n_train == sum(map(len, mem.train_dataloader()))
        assert dm.batches_per_epoch("val") == len(dm.val_dataloader()) == len(list(dm.val_dataloader()))
    else:
        assert n_train == max_jets


def test_seeds_out_of_range_are_config_errors(hls_dir):
    for seed in (-1, 2**32):
        with pytest.raises(ConfigError, match=r"data.seed must be in \[0, 4294967295\]"):
            JetDataModule(DataConfig(path=str(hls_dir), seed=seed))


def test_training_classes_present(hls_dir, tmp_path, writers):
    dm = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8))
    assert dm.train_classes() == [0, 1, 2, 3, 4]
    streaming = JetDataModule(DataConfig(path=str(hls_dir), num_particles=8, streaming=True, shuffle_buffer=30))
    assert streaming.train_classes() is None  # nothing read yet
    streaming.normaliser_state()
    assert streaming.train_classes() == [0, 1, 2, 3, 4]
