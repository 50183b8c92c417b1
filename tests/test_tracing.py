"""``tagformer.tracing``: the one rule for "is the model being traced / exported / compiled"."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from tagformer.tracing import is_compiling_in_process, is_plain_eager, is_tracing


class _Record(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((is_tracing(), is_plain_eager()))
        return x + 1


def test_eager_and_dispatch_modes() -> None:
    m = _Record()
    m(torch.zeros(2))
    with FlopCounterMode(display=False):
        m(torch.zeros(2))
    assert m.seen == [(False, True), (False, False)]  # a FLOP counter is eager, but not plain eager


class _Branch(torch.nn.Module):
    """Adds 1 when traced, subtracts 1 in eager mode: the traced graph records which branch it saw."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if is_tracing() else x - 1


def test_tracers_are_seen() -> None:
    x = torch.zeros(2)
    assert torch.equal(_Branch()(x), x - 1)
    assert torch.equal(torch.jit.trace(_Branch(), x, check_trace=False)(x), x + 1)
    assert torch.equal(torch.export.export(_Branch(), (x,)).module()(x), x + 1)
    assert torch.equal(torch.compile(_Branch(), backend="eager")(x), x + 1)


class _InProcess(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if is_compiling_in_process() else x - 1


def test_compiling_in_process_is_torch_compile_only() -> None:
    x = torch.zeros(2)
    assert torch.equal(_InProcess()(x), x - 1)
    assert torch.equal(torch.compile(_InProcess(), backend="eager")(x), x + 1)
    assert torch.equal(torch.export.export(_InProcess(), (x,)).module()(x), x - 1)
