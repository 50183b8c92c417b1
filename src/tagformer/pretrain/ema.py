"""An exponential-moving-average teacher and its cosine momentum schedule.

The momentum rises from ``start`` (0.99 by default) to ``end`` (1.0) along a half cosine over the run's
optimiser steps, and the teacher is updated once per optimiser step: ``teacher = m * teacher + (1 - m) *
student``. Teacher parameters never require gradients.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def ema_momentum(step: int, total: int, start: float = 0.99, end: float = 1.0) -> float:
    """Momentum at optimiser ``step`` of ``total``: ``end - (end - start) * (1 + cos(pi * step / total)) / 2``
    (``start`` at step 0, ``end`` at the last step; clamped beyond)."""
    total = max(int(total), 1)
    progress = min(max(int(step), 0) / total, 1.0)
    return end - (end - start) * (1.0 + math.cos(math.pi * progress)) / 2.0


def make_teacher(student: nn.Module) -> nn.Module:
    """A frozen deep copy of ``student`` (every parameter ``requires_grad=False``)."""
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher <- momentum * teacher + (1 - momentum) * student`` for every parameter; buffers copied."""
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        t.mul_(momentum).add_(s.detach().to(t.dtype), alpha=1.0 - momentum)
    for t, s in zip(teacher.buffers(), student.buffers(), strict=True):
        t.copy_(s)
