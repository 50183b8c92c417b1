"""Progress for a log file: plain lines, no carriage returns, at most one line every few seconds.

Lightning's bar redraws one terminal line with ``\\r``; written to a file (``tagformer train ... > log``,
a batch job's stdout) it becomes one unreadable line. When standard output is not a terminal, training
reports through :class:`LogLines` instead: a line when an epoch starts, at most one line every
``every_s`` seconds while it runs (batches done, jets/s, running loss), and one line when it ends with
the epoch's training and validation values.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import lightning as L


def _fmt(values: dict[str, Any]) -> str:
    parts = []
    for name, value in values.items():
        try:
            parts.append(f"{name} {float(value):.4g}")
        except (TypeError, ValueError):
            continue
    return ", ".join(parts)


class LogLines(L.Callback):
    """Line-per-event training progress for log files.

    Parameters
    ----------
    every_s : least number of seconds between two in-epoch lines.
    stream : where to write (standard output by default, looked up when writing).
    """

    def __init__(self, every_s: float = 30.0, stream: TextIO | None = None) -> None:
        self.every_s = float(every_s)
        self._stream = stream
        self._t_epoch = 0.0
        self._t_line = 0.0
        self._jets = 0

    def _say(self, text: str) -> None:
        stream = self._stream or sys.stdout
        print(text, file=stream, flush=True)

    @staticmethod
    def _total_batches(trainer: L.Trainer) -> str:
        total = trainer.num_training_batches
        return str(int(total)) if isinstance(total, int | float) and total != float("inf") else "?"

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t_epoch = self._t_line = time.perf_counter()
        self._jets = 0
        if trainer.is_global_zero:
            self._say(f"[train] epoch {trainer.current_epoch + 1}/{trainer.max_epochs} started "
                      f"({self._total_batches(trainer)} batches)")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._jets += len(batch) if hasattr(batch, "__len__") else 0
        now = time.perf_counter()
        if not trainer.is_global_zero or now - self._t_line < self.every_s:
            return
        self._t_line = now
        rate = self._jets / max(now - self._t_epoch, 1e-9)
        self._say(f"[train] epoch {trainer.current_epoch + 1} batch {batch_idx + 1}/{self._total_batches(trainer)}"
                  f", {rate:,.0f} jets/s")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        elapsed = time.perf_counter() - self._t_epoch
        rate = self._jets / max(elapsed, 1e-9)
        self._say(f"[train] epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done in {elapsed:.1f} s "
                  f"({rate:,.0f} jets/s): {_fmt(metrics)}")
