"""Tasks: classification loss and metrics, target lookup, and a training module over several tasks."""

from __future__ import annotations

import csv

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from jetfactory import random_jets
from tagformer.config import OptimConfig, ScheduleConfig
from tagformer.data.batch import JetBatch
from tagformer.errors import TagformerError
from tagformer.models.heads import ClassificationHead
from tagformer.models.registry import create_encoder
from tagformer.models.tagger import Tagger
from tagformer.tasks import ClassificationTask, build_heads
from tagformer.train.callbacks import EpochMetrics
from tagformer.train.module import TaggerModule


def test_classification_loss_is_cross_entropy_and_honours_weights():
    task = ClassificationTask(5)
    batch = random_jets(batch=6, classes=5, seed=1)
    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(task.loss(logits, batch), F.cross_entropy(logits, batch.labels))
    weight = torch.tensor([0.0, 1.0, 2.0, 0.5, 3.0, 1.0])
    weighted = batch.replace(weight=weight)
    expected = (F.cross_entropy(logits, batch.labels, reduction="none") * weight).sum() / weight.sum()
    torch.testing.assert_close(task.loss(logits, weighted), expected)
    acc = task.metrics(logits, weighted)["acc"]
    assert acc == (logits.argmax(-1) == batch.labels).float().mean()  # accuracy is not weighted


def test_a_missing_target_is_one_clear_error():
    batch = random_jets().replace(labels=None)
    with pytest.raises(TagformerError, match="task 'classification' needs the target 'labels'"):
        ClassificationTask(5).loss(torch.zeros(4, 5), batch)
    flavour = ClassificationTask(2, name="flavour", target_name="flavour")
    with pytest.raises(TagformerError, match="needs the target 'flavour' but the batch has labels"):
        flavour.target(random_jets())


def test_named_targets_are_read_from_the_batch():
    task = ClassificationTask(2, name="flavour", target_name="flavour")
    batch = random_jets(batch=3).replace(targets={"flavour": torch.tensor([1, 0, 1])})
    assert torch.equal(task.target(batch), torch.tensor([1, 0, 1]))
    head = task.build_head(7)
    assert isinstance(head, ClassificationHead) and head(torch.zeros(3, 7)).shape == (3, 2)


def test_task_arguments_are_checked():
    with pytest.raises(ValueError, match="identifier"):
        ClassificationTask(3, name="two words")
    with pytest.raises(ValueError, match="weight"):
        ClassificationTask(3, weight=-1.0)
    with pytest.raises(ValueError, match="unique"):
        build_heads([ClassificationTask(3), ClassificationTask(3)], 4)


class _Jets(torch.utils.data.Dataset):
    """Batches whose labels and second target depend on the jets (learnable), with per-jet weights."""

    def __init__(self, batches: int = 6) -> None:
        self.batches = []
        for i in range(batches):
            b = random_jets(batch=16, particles=8, classes=3, seed=i)
            labels = (b.mask.sum(1) % 3).long()  # multiplicity decides the class
            flavour = (b.features[:, 0, 0] > b.features[:, 0, 0].median()).long()
            self.batches.append(b.replace(labels=labels, targets={"flavour": flavour},
                                          weight=torch.rand(16, generator=torch.Generator().manual_seed(i)) + 0.5))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> JetBatch:
        return self.batches[i]


def _module(tasks) -> TaggerModule:
    torch.manual_seed(0)
    encoder = create_encoder("transformer_tiny", in_features=3, num_particles=8, num_layers=1)
    model = Tagger(encoder, build_heads(tasks, encoder.jet_dim), in_features=3)
    return TaggerModule(model, tasks, OptimConfig(lr=3e-3), ScheduleConfig(name="constant", warmup_fraction=0.0))


def _fit(module: TaggerModule, epochs: int, callbacks: list | None = None) -> L.Trainer:
    loader = torch.utils.data.DataLoader(_Jets(), batch_size=None)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=callbacks)
    trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    return trainer


def test_a_two_task_module_trains_and_logs_each_task(tmp_path):
    tasks = [ClassificationTask(3), ClassificationTask(2, name="flavour", target_name="flavour", weight=0.5)]
    module = _module(tasks)
    assert module.metric_names() == ["loss", "classification_loss", "classification_acc", "flavour_loss",
                                     "flavour_acc"]
    batch = _Jets()[0]
    with torch.no_grad():
        total, values = module._step(batch)
    torch.testing.assert_close(total, values["classification_loss"] + 0.5 * values["flavour_loss"])
    before = float(total)
    trainer = _fit(module, epochs=8, callbacks=[EpochMetrics(tmp_path / "metrics.csv")])
    metrics = trainer.callback_metrics
    assert {f"val_{n}" for n in module.metric_names()} <= set(metrics)
    assert float(metrics["val_loss"]) < before
    means = module.train_epoch_means()
    assert set(means) == {f"train_{n}" for n in module.metric_names()}
    assert all(0.0 <= means[k] <= 1.0 for k in ("train_classification_acc", "train_flavour_acc"))
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 and list(rows[0]) == EpochMetrics.fields(module.metric_names())
    assert all(rows[-1][f"val_{n}"] != "" for n in module.metric_names())


def test_one_classification_task_logs_the_names_of_before():
    module = _module([ClassificationTask(3)])
    assert module.metric_names() == ["loss", "acc"]
    batch = _Jets()[0]
    with torch.no_grad():
        total, values = module._step(batch)
        logits = module.model(batch)
    assert set(values) == {"loss", "acc"}
    expected = (F.cross_entropy(logits, batch.labels, reduction="none") * batch.weight).sum() / batch.weight.sum()
    torch.testing.assert_close(total, expected)
    trainer = _fit(module, epochs=1)
    assert {"val_loss", "val_acc"} <= set(trainer.callback_metrics)
    assert set(module.train_epoch_means()) == {"train_loss", "train_acc"}


def test_the_module_needs_a_head_per_task():
    tasks = [ClassificationTask(3)]
    encoder = create_encoder("transformer_tiny", in_features=3, num_particles=8)
    model = Tagger(encoder, build_heads(tasks, encoder.jet_dim), in_features=3)
    with pytest.raises(ValueError, match="no head for task"):
        TaggerModule(model, [ClassificationTask(2, name="flavour")], OptimConfig(), ScheduleConfig())


def test_particle_level_tasks_are_refused_until_there_are_per_particle_heads():
    class PerParticle(ClassificationTask):
        level = "particle"

    tasks = [PerParticle(3)]
    encoder = create_encoder("transformer_tiny", in_features=3, num_particles=8)
    model = Tagger(encoder, build_heads(tasks, encoder.jet_dim), in_features=3)
    with pytest.raises(ValueError, match="not jet-level"):
        TaggerModule(model, tasks, OptimConfig(), ScheduleConfig())


def test_a_checkpoint_from_before_the_encoder_heads_split_is_not_resumed():
    module = _module([ClassificationTask(3)])
    legacy = {"state_dict": {"model.embed.weight": torch.zeros(1), "model.head.weight": torch.zeros(1)}}
    with pytest.raises(TagformerError, match="before the encoder/heads split"):
        module.on_load_checkpoint(legacy)
    module.on_load_checkpoint({"state_dict": {"model.encoder.embed.weight": torch.zeros(1)},
                               "tagformer_epoch_sums": {"count": 32.0, "loss": 48.0, "acc": 8.0}})
    assert module.train_epoch_means() == {"train_loss": 1.5, "train_acc": 0.25}
