"""LightningModule training a :class:`~tagformer.models.tagger.Tagger` on its tasks: losses, metrics,
throughput, optimiser and LR schedule.

Neither the model nor this module owns a loss: each :class:`~tagformer.tasks.base.Task` reads its head's
output and its target from the batch; the training loss is the sum of ``task.weight x task.loss``. With
one task the logged names are ``loss`` and the task's metrics (``acc`` for classification), ``val_``
prefixed in validation; with several, ``loss`` is the total and each task adds ``<name>_loss`` and
``<name>_<metric>``. A non-finite loss stops the run with a :class:`~tagformer.errors.TagformerError`
naming the step (:mod:`tagformer.train.finite`: at once on the CPU; on an accelerator at the next log step,
checkpoint or epoch end), so the last checkpoint on disk stays the last good one.

A step costs the model's forward, backward and optimiser update and little else: epoch sums stay on the
device (one stacked add per step, no host synchronisation), per-step values are handed to Lightning's
logger only on the steps it writes (every ``trainer.log_every_n_steps``), validation values are summed
on the device and logged once per epoch, and with ``trainer.compile`` the loss step runs through
``torch.compile`` (:mod:`tagformer.train.compile`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from tagformer.config import OptimConfig, ScheduleConfig
from tagformer.data.batch import JetBatch
from tagformer.errors import TagformerError
from tagformer.tasks.base import Task
from tagformer.train.compile import WarmupClock, compile_fn
from tagformer.train.finite import FiniteCheck, NonFiniteLossError
from tagformer.train.rng import rng_state, set_rng_state

__all__ = ["EpochSums", "NonFiniteLossError", "TaggerModule", "check_checkpoint_layout", "lr_factor",
           "should_log_step"]


def should_log_step(trainer: Any) -> bool:
    """Whether Lightning writes this training step's logged values (every ``log_every_n_steps``, as its
    logger connector decides); True when that cannot be known (no trainer attached)."""
    connector = getattr(trainer, "_logger_connector", None)
    if connector is None:
        return True
    try:
        return bool(connector.should_update_logs)
    except Exception:  # a loop state Lightning's check does not know: log, as before
        return True


def check_checkpoint_layout(checkpoint: dict[str, Any]) -> None:
    """Refuse a Lightning checkpoint saved before the encoder/heads split: its weights and optimiser state
    follow the old layout, so training cannot continue from it."""
    keys = checkpoint.get("state_dict", {})
    if keys and not any(k.startswith("model.encoder.") for k in keys):
        raise TagformerError("this checkpoint was saved before the encoder/heads split and cannot be resumed; "
                             "its best weights still evaluate and export - retrain to continue training")


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


class EpochSums:
    """Jet-weighted sums of per-batch values over one epoch, kept on the values' device.

    Float64 where the device has it (MPS does not: float32 there), so the epoch means match sums of
    Python floats to rounding. The values of a batch are stacked and added in one operation (the names
    must be the same at every call, as a module's are); nothing is read back to the host until
    :meth:`means` or :meth:`state_dict`.
    """

    def __init__(self) -> None:
        self._base: dict[str, float] = {}  # sums restored from a checkpoint
        self._names: tuple[str, ...] = ()
        self._total: torch.Tensor | None = None
        self.count = 0.0

    @property
    def sums(self) -> dict[str, torch.Tensor | float]:
        """Sum of ``value x jets`` per name (restored part + device part)."""
        out: dict[str, torch.Tensor | float] = dict(self._base)
        if self._total is not None:
            for i, name in enumerate(self._names):
                out[name] = out.get(name, 0.0) + self._total[i]
        return out

    def add(self, values: dict[str, torch.Tensor], n: int) -> None:
        if not values:
            self.count += n
            return
        names = tuple(values)
        first = next(iter(values.values()))
        dtype = torch.float32 if first.device.type == "mps" else torch.float64
        stacked = torch.stack([v.detach().reshape(()) for v in values.values()]).to(dtype) * n
        if self._total is None:
            self._names, self._total = names, stacked
        elif names == self._names:
            self._total += stacked
        else:  # names changed: fold what we have into the base and start again
            self._base = {k: float(v) for k, v in self.sums.items()}
            self._names, self._total = names, stacked
        self.count += n

    def means(self) -> dict[str, float]:
        count = max(self.count, 1.0)
        return {name: float(total) / count for name, total in self.sums.items()}

    def mean_tensors(self) -> dict[str, torch.Tensor]:
        """Means as 0-d tensors on the values' device (no host synchronisation)."""
        count = max(self.count, 1.0)
        return {name: (total if isinstance(total, torch.Tensor) else torch.tensor(total)) / count
                for name, total in self.sums.items()}

    def state_dict(self) -> dict[str, float]:
        return {"count": self.count, **{name: float(total) for name, total in self.sums.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = float(state.get("count", 0.0))
        self._base = {k: float(v) for k, v in state.items() if k != "count"}
        self._names, self._total = (), None


class TaggerModule(L.LightningModule):
    """Train a tagger's heads on their tasks.

    Parameters
    ----------
    model : a :class:`~tagformer.models.tagger.Tagger` (``forward_heads(JetBatch) -> {head: output}``)
        with a head for every task.
    tasks : what to train; ``task.name`` picks the head.
    optim, schedule : optimiser and learning-rate schedule settings.
    compile_step : run the training loss step through ``torch.compile`` (see :mod:`tagformer.train.compile`);
        the first step of each batch shape (its compilation) is timed and reported in the log.
    """

    def __init__(self, model: torch.nn.Module, tasks: Sequence[Task], optim: OptimConfig,
                 schedule: ScheduleConfig, compile_step: bool = False) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("a training module needs at least one task")
        heads = getattr(model, "heads", {})
        missing = [t.name for t in tasks if t.name not in heads]
        if missing:
            raise ValueError(f"the model has no head for task(s) {missing}; heads: {list(heads)}")
        particle = [t.name for t in tasks if t.level != "jet"]
        if particle:  # the tagger's heads read the jet embedding; per-particle heads do not exist yet
            raise ValueError(f"task(s) {particle} are not jet-level; only jet-level tasks can be trained")
        self.model = model
        self.tasks = tuple(tasks)
        #: logged values shown in the progress bar
        self._bar = {"loss", *tasks[0].metric_names} if len(tasks) == 1 else {"loss"}
        self.optim_cfg = optim
        self.schedule_cfg = schedule
        self._sums = EpochSums()
        self._val_sums = EpochSums()
        self._finite = FiniteCheck("training")
        self._t0: float | None = None
        self.compile = bool(compile_step)
        self._compiled: Callable[[JetBatch], tuple[torch.Tensor, dict[str, torch.Tensor]]] | None = None
        #: first-step time of each batch shape (the compilation when ``compile``)
        self.warmup = WarmupClock()

    def metric_names(self) -> list[str]:
        """Names of the logged training values in order (``val_`` + name in validation)."""
        if len(self.tasks) == 1:
            return ["loss", *self.tasks[0].metric_names]
        names = ["loss"]
        for task in self.tasks:
            names += [f"{task.name}_loss", *(f"{task.name}_{m}" for m in task.metric_names)]
        return names

    def forward(self, batch: JetBatch) -> torch.Tensor:
        return self.model(batch)

    def _step(self, batch: JetBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss (with graph) and every logged value of this batch (detached 0-d tensors)."""
        outputs = self.model.forward_heads(batch)
        single = len(self.tasks) == 1
        weighted: list[torch.Tensor] = []
        values: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            output = outputs[task.name].float()
            loss = task.loss(output, batch)
            weighted.append(loss if task.weight == 1.0 else task.weight * loss)
            with torch.no_grad():
                metrics = task.metrics(output, batch)
            if not single:
                values[f"{task.name}_loss"] = loss.detach()
            values.update({(name if single else f"{task.name}_{name}"): v for name, v in metrics.items()})
        total = weighted[0]
        for term in weighted[1:]:
            total = total + term
        return total, {"loss": total.detach(), **values}

    def _train_step(self, batch: JetBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss step of a training batch: compiled when ``compile`` (eager from the first failure on)."""
        if not self.compile:
            return self._step(batch)
        if self._compiled is None:
            self._compiled = compile_fn(self._step)
        try:
            return self._compiled(batch)
        except torch._dynamo.exc.TorchDynamoException as exc:  # this model does not compile: train eagerly
            self.compile = False
            lines = [x for x in str(exc).splitlines() if "Error" in x] or str(exc).strip().splitlines() or [repr(exc)]
            rank_zero_warn(f"[compile] torch.compile failed for this model ({lines[-1][:300]}); training continues "
                           "eagerly (trainer.compile=false avoids the attempt)")
            return self._step(batch)

    def on_train_epoch_start(self) -> None:
        self._sums = EpochSums()
        self._t0 = time.perf_counter()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self.compile:
            self.warmup.start(tuple(batch.features.shape))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self.compile:
            return
        if self.warmup._t0 is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = self.warmup.stop()
        if seconds is not None:
            rank_zero_info(f"[compile] batch shape {tuple(batch.features.shape)}: first training step took "
                           f"{seconds:.1f} s (torch.compile warm-up; {self.warmup.total_s:.1f} s so far)")

    def training_step(self, batch: JetBatch, batch_idx: int) -> torch.Tensor:
        loss, values = self._train_step(batch)
        self._finite.step(loss, int(self.global_step), int(self.current_epoch), batch_idx)
        n = len(batch)
        self._sums.add(values, n)
        if should_log_step(self._trainer):  # Lightning writes step values only on these steps
            self._finite.check()
            for name, value in values.items():
                self.log(name, value, prog_bar=name in self._bar, batch_size=n, on_step=True, on_epoch=False)
            elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
            if elapsed > 0:
                self.log("jets_s", self._sums.count / elapsed, prog_bar=True, on_step=True, on_epoch=False,
                         batch_size=n)
        return loss

    def check_finite(self) -> None:
        """Raise :class:`NonFiniteLossError` if a training step since the last check was not finite (callbacks
        call this before writing a checkpoint)."""
        self._finite.check()

    def on_train_epoch_end(self) -> None:
        self._finite.check()

    def train_epoch_means(self) -> dict[str, float]:
        """``train_<name>``: jet-weighted means over this epoch's batches seen by this process."""
        means = self._sums.means()
        return {f"train_{name}": means.get(name, float("nan")) for name in self.metric_names()}

    def on_validation_epoch_start(self) -> None:
        self._val_sums = EpochSums()

    def validation_step(self, batch: JetBatch, batch_idx: int) -> None:
        _, values = self._step(batch)
        self._val_sums.add(values, len(batch))

    def on_validation_epoch_end(self) -> None:
        """Log ``val_<name>``: jet-weighted means over the validation split (summed over every process)."""
        sums, count = self._val_sums.sums, self._val_sums.count
        if not sums:
            return
        names = list(sums)
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        totals = torch.stack([torch.as_tensor(sums[k], dtype=dtype, device=self.device) for k in names])
        totals = torch.cat([totals, torch.tensor([count], dtype=dtype, device=self.device)])
        if self._trainer is not None and self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        means = (totals[:-1] / totals[-1].clamp_min(1.0)).float()
        for i, name in enumerate(names):
            self.log(f"val_{name}", means[i], prog_bar=name in self._bar, on_step=False, on_epoch=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tagformer_epoch_sums"] = self._sums.state_dict()
        checkpoint["tagformer_rng"] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the epoch sums and the random generators; refuse a ``last.ckpt`` saved before the
        encoder/heads split (:func:`check_checkpoint_layout`)."""
        check_checkpoint_layout(checkpoint)
        self._sums.load_state_dict(checkpoint.get("tagformer_epoch_sums", {}))
        if "tagformer_rng" in checkpoint:  # checkpoints of earlier versions lack it
            set_rng_state(checkpoint["tagformer_rng"])

    def total_steps(self) -> int:
        """Optimiser steps of the whole run (the schedule's length).

        Counted from the data module (``train_batches_per_epoch``) when it offers that, so that no training
        loader is built before a resumed run's state is restored (Lightning's ``estimated_stepping_batches``
        builds and starts one); else Lightning's estimate. ``limit_train_batches`` applies as in Lightning,
        epoch by epoch. With a batch schedule (the data module's ``batch_schedule``) each epoch counts the
        batches of its own batch size.
        """
        trainer = self._trainer
        if trainer is None:
            return 1
        datamodule = trainer.datamodule
        count = getattr(datamodule, "train_batches_per_epoch", None)
        if count is None:
            return max(1, int(trainer.estimated_stepping_batches))
        limit = trainer.limit_train_batches

        def limited(batches: int) -> int:
            if isinstance(limit, int):
                return min(batches, limit)
            return batches if limit is None else int(batches * limit)

        epochs = max(int(trainer.max_epochs or 1), 1)
        if not getattr(datamodule, "batch_schedule", None):
            return max(1, limited(count(trainer.global_rank, trainer.world_size)) * epochs)
        return max(1, sum(limited(count(trainer.global_rank, trainer.world_size, epoch=e)) for e in range(epochs)))

    def configure_optimizers(self) -> dict[str, Any]:
        from tagformer.train.optim import build_optimizer

        return build_optimizer(self.model.named_parameters(), self.optim_cfg, self.schedule_cfg, self.total_steps())
