"""LightningModule wrapping any zoo model: loss, accuracy, throughput, optimiser and LR schedule.

The wrapped model knows nothing about training; this module owns the loss (cross entropy, per-jet
weights when the batch has them), the metrics it logs and the optimiser. A non-finite loss stops the run
with a :class:`~tagformer.errors.TagformerError` naming the step, before any optimiser update, so the
last checkpoint on disk stays the last good one.
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import TagformerError
from tagformer.config import OptimConfig, ScheduleConfig


class NonFiniteLossError(TagformerError):
    """The training loss became NaN or infinite."""


def lr_factor(step: int, total: int, schedule: ScheduleConfig) -> float:
    """Multiplier of the base learning rate at optimiser ``step`` out of ``total`` (clamped, never fails)."""
    total = max(int(total), 1)
    warm = int(schedule.warmup_fraction * total)
    if schedule.name != "onecycle" and step < warm:
        return (step + 1) / (warm + 1)
    floor = schedule.min_lr_ratio
    if schedule.name == "constant":
        return 1.0
    if schedule.name == "onecycle":
        # one-cycle shape: ramp up from floor to 1 over the warm-up, then cosine down to floor / 10
        peak = max(warm, 1)
        if step < peak:
            return floor + (1.0 - floor) * step / peak
        floor = floor / 10
        progress = min((step - peak) / max(total - peak, 1), 1.0)
    else:
        progress = min((step - warm) / max(total - warm, 1), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class TaggerModule(L.LightningModule):
    """Train a JetBatch -> logits model with cross entropy.

    Parameters
    ----------
    model : the tagger (``forward(JetBatch) -> (B, C)`` logits).
    optim, schedule : optimiser and learning-rate schedule settings.
    """

    def __init__(self, model: nn.Module, optim: OptimConfig, schedule: ScheduleConfig) -> None:
        super().__init__()
        self.model = model
        self.optim_cfg = optim
        self.schedule_cfg = schedule
        self._sums = {"loss": 0.0, "correct": 0.0, "count": 0.0}
        self._t0: float | None = None

    def forward(self, batch: JetBatch) -> torch.Tensor:
        return self.model(batch)

    def _loss(self, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(batch).float()
        if batch.labels is None:
            raise TagformerError("training data has no labels")
        per_jet = F.cross_entropy(logits, batch.labels, reduction="none")
        if batch.weight is not None:
            loss = (per_jet * batch.weight).sum() / batch.weight.sum().clamp_min(1e-12)
        else:
            loss = per_jet.mean()
        correct = (logits.argmax(-1) == batch.labels).float()
        return loss, correct

    def on_train_epoch_start(self) -> None:
        self._sums = {"loss": 0.0, "correct": 0.0, "count": 0.0}
        self._t0 = time.perf_counter()

    def training_step(self, batch: JetBatch, batch_idx: int) -> torch.Tensor:
        loss, correct = self._loss(batch)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss became {loss.item()} at step {self.global_step} (epoch {self.current_epoch}, "
                f"batch {batch_idx}); stopped before updating, the last checkpoint is the last good one - "
                "lower optim.lr or check the data for NaN/inf values"
            )
        n = len(batch)
        self._sums["loss"] += float(loss.detach()) * n
        self._sums["correct"] += float(correct.sum())
        self._sums["count"] += n
        elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
        self.log("loss", loss.detach(), prog_bar=True, batch_size=n, on_step=True, on_epoch=False)
        self.log("acc", correct.mean(), prog_bar=True, batch_size=n, on_step=True, on_epoch=False)
        if elapsed > 0:
            self.log("jets_s", self._sums["count"] / elapsed, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def train_epoch_means(self) -> dict[str, float]:
        """Mean training loss and accuracy over the batches of this epoch seen by this process."""
        count = max(self._sums["count"], 1.0)
        return {"train_loss": self._sums["loss"] / count, "train_acc": self._sums["correct"] / count}

    def validation_step(self, batch: JetBatch, batch_idx: int) -> None:
        loss, correct = self._loss(batch)
        n = len(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=n, on_epoch=True, sync_dist=True)
        self.log("val_acc", correct.mean(), prog_bar=True, batch_size=n, on_epoch=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tagformer_epoch_sums"] = dict(self._sums)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._sums = {k: float(v) for k, v in checkpoint.get("tagformer_epoch_sums", self._sums).items()}

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.optim_cfg
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if cfg.name == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
        elif cfg.name == "adam":
            opt = torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas)
        else:
            opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else 1
        schedule = self.schedule_cfg
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total, schedule))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
