"""LightningModule of a pretraining run: one method's loss on a backbone, optimiser, schedule, EMA hooks.

``self.model`` is the :class:`~tagformer.pretrain.backbone.Backbone` (encoder + input normalisation): the
run's best-weights file holds exactly its state dict. ``self.method`` holds the method's own parts (mask
tokens, heads, predictors, EMA teachers, centres); they are in the Lightning checkpoint (for resume) but
not in the best weights.

The random choices of step ``s`` (masks, targets) come from a generator seeded with (seed, s), and those of
validation batch ``i`` from (seed, i): a resumed run draws the same masks, and validation losses of
different epochs compare like with like. Each validation epoch logs the embedding's per-dimension spread
and effective rank (:mod:`tagformer.pretrain.collapse`).
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

from tagformer.config import OptimConfig, ScheduleConfig
from tagformer.data.batch import JetBatch
from tagformer.pretrain.backbone import Backbone
from tagformer.pretrain.collapse import embedding_stats
from tagformer.pretrain.masking import step_generator
from tagformer.pretrain.method import PretrainMethod
from tagformer.train.module import EpochSums, NonFiniteLossError
from tagformer.train.rng import rng_state, set_rng_state

#: Jets of the validation split whose embeddings are kept for the collapse statistics.
STATS_JETS = 4096
_VAL_STREAM = 1


def run_steps(trainer: Any) -> int:
    """Optimiser steps of the whole run, counted from the data module when it can (as ``TaggerModule``)."""
    if trainer is None:
        return 1
    count = getattr(trainer.datamodule, "train_batches_per_epoch", None)
    if count is None:
        return max(1, int(trainer.estimated_stepping_batches))
    batches = count(trainer.global_rank, trainer.world_size)
    limit = trainer.limit_train_batches
    if isinstance(limit, int):
        batches = min(batches, limit)
    elif limit is not None:
        batches = int(batches * limit)
    return max(1, batches * max(int(trainer.max_epochs or 1), 1))


class PretrainModule(L.LightningModule):
    """Pretrain ``backbone`` with ``method``.

    Parameters
    ----------
    backbone : encoder + input normalisation (statistics already set).
    method : the method's module.
    optim, schedule : optimiser and learning-rate schedule (as ``tagformer train``).
    seed : seeds the per-step random choices.
    """

    def __init__(self, backbone: Backbone, method: PretrainMethod, optim: OptimConfig, schedule: ScheduleConfig,
                 seed: int = 0) -> None:
        super().__init__()
        self.model = backbone
        self.method = method
        self.optim_cfg = optim
        self.schedule_cfg = schedule
        self.seed = int(seed)
        self._sums = EpochSums()
        self._t0: float | None = None
        self._val_embeddings: list[torch.Tensor] = []
        self.last_stats: dict[str, float] = {}
        #: training jets processed so far (the pretraining cost; carried across resumes)
        self.jets_seen = 0

    def metric_names(self) -> list[str]:
        return [*self.method.metric_names, "emb_std", "emb_rank"]

    def total_steps(self) -> int:
        return run_steps(self._trainer)

    def on_train_epoch_start(self) -> None:
        self._sums = EpochSums()
        self._t0 = time.perf_counter()

    def training_step(self, batch: JetBatch, batch_idx: int) -> torch.Tensor:
        generator = step_generator(self.seed, self.global_step)
        loss, values = self.method.loss(self.model, batch, generator)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"pretraining loss became {loss.item()} at step {self.global_step} (epoch {self.current_epoch}, "
                f"batch {batch_idx}); stopped before updating, the last checkpoint is the last good one - lower "
                "optim.lr or check the data for NaN/inf values")
        n = len(batch)
        self.jets_seen += n
        self._sums.add(values, n)
        for name, value in values.items():
            self.log(name, value, prog_bar=name == "loss", batch_size=n, on_step=True, on_epoch=False)
        elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
        if elapsed > 0:
            self.log("jets_s", self._sums.count / elapsed, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.method.after_step(self.model, int(self.global_step), self.total_steps())

    def train_epoch_means(self) -> dict[str, float]:
        means = self._sums.means()
        return {f"train_{name}": means.get(name, float("nan")) for name in self.metric_names()}

    def on_validation_epoch_start(self) -> None:
        self._val_embeddings = []

    def validation_step(self, batch: JetBatch, batch_idx: int) -> None:
        generator = step_generator(self.seed, batch_idx, _VAL_STREAM)
        _, values = self.method.loss(self.model, batch, generator)
        n = len(batch)
        for name, value in values.items():
            self.log(f"val_{name}", value, prog_bar=name == "loss", batch_size=n, on_epoch=True, sync_dist=True)
        if sum(len(e) for e in self._val_embeddings) < STATS_JETS:
            self._val_embeddings.append(self.model.embed(batch).detach().float().cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_embeddings:
            return
        stats = embedding_stats(torch.cat(self._val_embeddings)[:STATS_JETS])
        stats["emb_scale"] = float(torch.cat(self._val_embeddings).abs().mean())
        self.last_stats = stats
        self._val_embeddings = []
        for name in ("emb_std", "emb_rank"):
            self.log(f"val_{name}", stats[name], on_epoch=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tagformer_epoch_sums"] = self._sums.state_dict()
        checkpoint["tagformer_rng"] = rng_state()
        checkpoint["tagformer_jets_seen"] = int(self.jets_seen)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._sums.load_state_dict(checkpoint.get("tagformer_epoch_sums", {}))
        self.jets_seen = int(checkpoint.get("tagformer_jets_seen", 0))
        if "tagformer_rng" in checkpoint:
            set_rng_state(checkpoint["tagformer_rng"])

    def configure_optimizers(self) -> dict[str, Any]:
        from tagformer.train.optim import build_optimizer

        return build_optimizer(self.named_parameters(), self.optim_cfg, self.schedule_cfg, self.total_steps())
