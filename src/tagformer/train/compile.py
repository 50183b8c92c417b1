"""``trainer.compile``: whether the training step runs through ``torch.compile`` (inductor), and what the
compilation cost.

``auto`` means *on for CUDA, off elsewhere*. The choice is measured (docs/training.md): on the CPU the
trigger-size models' training step is dominated by operators inductor calls rather than generates (the
attention kernel, matrix products) and compiled steps ran at 0.7-1.0x the eager rate after a warm-up of
about a minute per batch shape, so compiling there does not pay; on a GPU, where eager steps of these
models are launch-bound, fusing the element-wise work pays. ``true`` compiles on any device (with a
working C++ compiler on the CPU), ``false`` never does.

What is compiled is the loss step (model forward, every task's loss and metrics); autograd compiles its
backward on first use. The model itself is not wrapped, so its ``state_dict`` keys (checkpoints,
``best.pt``) are those of the uncompiled module. Shapes are static: each distinct batch shape (the full
batch, the last smaller batch of an epoch, every size of a batch schedule) compiles once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

#: ``trainer.compile="auto"`` per accelerator (anything else: off).
AUTO_COMPILE = {"cuda": True, "gpu": True, "cpu": False, "mps": False}


def resolve_compile(setting: bool | str, accelerator: str) -> bool:
    """``trainer.compile`` (True, False or ``"auto"``) for ``accelerator`` as a bool."""
    if setting == "auto":
        return AUTO_COMPILE.get(str(accelerator).lower(), False)
    return bool(setting)


def compile_fn(fn: Callable[..., Any], backend: str = "inductor") -> Callable[..., Any]:
    """``torch.compile(fn)`` with static shapes (``backend``: inductor; tests use ``aot_eager``)."""
    return torch.compile(fn, backend=backend, dynamic=False)


class WarmupClock:
    """Time the first training step of each batch shape: with a compiled step that step includes the
    compilation (forward now, backward at its first call), which is the warm-up cost reported in the log.
    """

    def __init__(self) -> None:
        self.shapes: dict[tuple[int, ...], float] = {}
        self._t0: float | None = None
        self._shape: tuple[int, ...] | None = None

    def start(self, shape: tuple[int, ...]) -> None:
        """Call before a step; starts the clock if ``shape`` is new."""
        if shape in self.shapes:
            self._t0 = None
            return
        self._shape, self._t0 = shape, time.perf_counter()

    def stop(self) -> float | None:
        """Call after the step; the seconds of a new shape's first step, else None."""
        if self._t0 is None or self._shape is None:
            return None
        seconds = time.perf_counter() - self._t0
        self.shapes[self._shape] = seconds
        self._t0 = None
        return seconds

    @property
    def total_s(self) -> float:
        """Seconds of every shape's first step together."""
        return float(sum(self.shapes.values()))
