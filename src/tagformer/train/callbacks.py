"""Callbacks of a training run: crash-safe checkpoints, best weights, one metrics row per epoch.

Everything is written atomically (:mod:`tagformer.atomic`: temporary file + ``os.replace``), so a process
killed at any instant leaves either the previous or the new file, never a torn one. Checkpoint contents
are tensors and plain Python values only, so ``torch.load(path, weights_only=True)`` reads them.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from tagformer.atomic import atomic_path, atomic_write_text


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` atomically (see :mod:`tagformer.atomic`)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _check_finite(module: Any) -> None:
    """Before writing a checkpoint: raise if the module saw a non-finite loss it has not reported yet (on an
    accelerator the check is deferred to such points, see :mod:`tagformer.train.finite`)."""
    check = getattr(module, "check_finite", None)
    if callable(check):
        check()


class RollingCheckpoint(L.Callback):
    """Save ``last.ckpt`` (full Lightning state) every ``every_n_steps`` optimiser steps and each epoch end.

    A kill therefore loses at most ``every_n_steps`` steps; ``--resume`` continues from this file.
    """

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path = Path(path)
        self.every_n_steps = int(every_n_steps)
        self._last_saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step == self._last_saved_step and trainer.global_step > 0:
            return
        _check_finite(trainer.lightning_module)
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        if trainer.is_global_zero:
            atomic_torch_save(checkpoint, self.path)
        trainer.strategy.barrier("tagformer_last_ckpt")
        self._last_saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.global_step > 0 and trainer.global_step % self.every_n_steps == 0:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._last_saved_step = -1
            self._save(trainer)


class BestWeights(L.Callback):
    """Keep the model weights of the best validation epoch in ``best.pt`` (a plain state dict + metadata)."""

    def __init__(self, path: Path, monitor: str) -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.best_score: float | None = None
        self.best_epoch: int = -1

    def _better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best_score is None:
            return True
        return value < self.best_score if self.monitor.endswith("loss") else value > self.best_score

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.monitor])
        if not self._better(value):
            return
        _check_finite(pl_module)
        self.best_score, self.best_epoch = value, int(trainer.current_epoch)
        if trainer.is_global_zero:
            model = pl_module.model  # type: ignore[attr-defined]
            state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            meta = {"epoch": self.best_epoch, "monitor": self.monitor, "score": value,
                    "global_step": int(trainer.global_step)}
            atomic_torch_save({"state_dict": state, "meta": meta}, self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_epoch = int(state_dict.get("best_epoch", -1))


class EpochMetrics(L.Callback):
    """One row per completed epoch in ``metrics.csv`` (rewritten atomically, unique by epoch).

    Columns: ``epoch, step``, ``train_<name>`` and ``val_<name>`` for each name the module logs
    (``TaggerModule.metric_names``: ``loss, acc`` for one classification task), then ``lr, epoch_time_s``.

    A row is written at the end of each epoch, before that epoch's checkpoint; if a kill falls in between,
    the resumed run finishes the epoch again and replaces its row, so no completed epoch is lost or doubled.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._t0 = time.perf_counter()

    @staticmethod
    def fields(names: list[str]) -> list[str]:
        """The CSV columns for the logged ``names``."""
        return ["epoch", "step", *(f"train_{n}" for n in names), *(f"val_{n}" for n in names), "lr",
                "epoch_time_s"]

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def read(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with open(self.path, newline="") as fh:
            return list(csv.DictReader(fh))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        names = pl_module.metric_names()  # type: ignore[attr-defined]
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else float("nan")
        row: dict[str, Any] = {"epoch": int(trainer.current_epoch), "step": int(trainer.global_step)}
        row.update(pl_module.train_epoch_means())  # type: ignore[attr-defined]
        row.update({f"val_{n}": float(metrics[f"val_{n}"]) if f"val_{n}" in metrics else "" for n in names})
        row.update({"lr": lr, "epoch_time_s": round(time.perf_counter() - self._t0, 3)})
        rows = [r for r in self.read() if int(r["epoch"]) != row["epoch"]] + [row]
        rows.sort(key=lambda r: int(r["epoch"]))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields(names), restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())


class DataEpoch(L.Callback):
    """Tell the data module which epoch starts (``datamodule.set_epoch``), so that the training order is a
    function of (seed, epoch) and a resumed run replays the epochs an uninterrupted run would."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if datamodule is not None and callable(getattr(datamodule, "set_epoch", None)):
            datamodule.set_epoch(int(trainer.fit_loop.epoch_progress.current.processed))


class JetProgressBar(L.pytorch.callbacks.TQDMProgressBar):
    """Lightning's bar without the logger version; shows epoch, loss, acc, jets/s and validation metrics."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items
