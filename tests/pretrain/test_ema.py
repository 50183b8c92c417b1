"""EMA teacher: cosine momentum schedule, updates, no gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from tagformer.pretrain.ema import ema_momentum, ema_update, make_teacher


def test_schedule_values() -> None:
    assert ema_momentum(0, 100) == pytest.approx(0.99)
    assert ema_momentum(50, 100) == pytest.approx(0.995)
    assert ema_momentum(100, 100) == pytest.approx(1.0)
    assert ema_momentum(500, 100) == pytest.approx(1.0)
    assert ema_momentum(25, 100) == pytest.approx(1.0 - 0.01 * (1 + math.cos(math.pi / 4)) / 2)
    values = [ema_momentum(s, 100) for s in range(101)]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert ema_momentum(0, 10, start=0.996) == pytest.approx(0.996)


def test_teacher_moves_towards_student_without_gradients() -> None:
    student = nn.Linear(3, 2)
    teacher = make_teacher(student)
    assert all(not p.requires_grad for p in teacher.parameters())
    before = teacher.weight.clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    ema_update(teacher, student, 0.9)
    assert torch.allclose(teacher.weight, before + 0.1, atol=1e-6)
    ema_update(teacher, student, 1.0)
    assert torch.allclose(teacher.weight, before + 0.1, atol=1e-6)
    assert teacher.weight.grad is None
