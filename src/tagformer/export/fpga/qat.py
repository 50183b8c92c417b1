"""Calibration, quantisation-aware fine-tuning and accuracy of hardware variants on in-memory jets.

Jets are held as ``(x, m, y)`` tensors: normalised features (B, N, F) float64, mask (B, N) as 0/1 float64,
labels (B,). A deliberately small loop (Adam, cross-entropy on the fake-quantised forward); the training
harness of ``tagformer train`` is not involved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from tagformer.data.batch import JetBatch
from tagformer.export.fpga.hardware import HardwareModel
from tagformer.export.fpga.ops import QuantPlan, TorchOps, calibrated_plan
from tagformer.models.tagger import Tagger

Jets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@torch.no_grad()
def collect(batches: Iterable[JetBatch], tagger: Tagger, max_jets: int | None = None,
            side: Callable[[JetBatch], torch.Tensor | None] | None = None) -> tuple[Jets, float]:
    """Normalised jets from ``batches`` (at most ``max_jets``) and the float tagger's accuracy on them.

    ``side``: the variant's side inputs of a batch (e.g. PHAT's grid cells), appended as the last feature
    columns.
    """
    xs, ms, ys, correct = [], [], [], 0
    seen = 0
    for batch in batches:
        if max_jets is not None and seen >= max_jets:
            break
        take = len(batch) if max_jets is None else min(len(batch), max_jets - seen)
        features, mask, labels = batch.features[:take], batch.mask[:take], batch.labels[:take]
        sub = JetBatch(features=features, p4=batch.p4[:take], mask=mask, labels=labels)
        correct += int((tagger(sub).argmax(-1) == labels).sum())
        x = tagger.input_norm(features, mask).double()
        extra = side(sub) if side is not None else None
        xs.append(x if extra is None else torch.cat([x, extra.double()], dim=-1))
        ms.append(mask.double())
        ys.append(labels)
        seen += take
    if not xs:
        return (torch.zeros(0), torch.zeros(0), torch.zeros(0, dtype=torch.long)), float("nan")
    return (torch.cat(xs), torch.cat(ms), torch.cat(ys)), correct / max(seen, 1)


def _chunks(jets: Jets, size: int) -> Iterable[Jets]:
    x, m, y = jets
    for start in range(0, len(y), size):
        yield x[start:start + size], m[start:start + size], y[start:start + size]


@torch.no_grad()
def calibrate(model: HardwareModel, jets: Jets, bits: int, num_particles: int) -> QuantPlan:
    """Activation formats from the float variant's ranges on ``jets``; tables for ``num_particles``."""
    ops = TorchOps(record={})
    for x, m, _ in _chunks(jets, 512):
        model(x, m, ops)
    return calibrated_plan(bits, ops.record or {}, ops.signs, model.luts(bits, num_particles),
                           model.side_columns, model.side_spec)


@torch.no_grad()
def accuracy(model: HardwareModel, plan: QuantPlan | None, jets: Jets) -> float:
    """Accuracy of the variant, float (``plan=None``) or fake-quantised."""
    correct = total = 0
    for x, m, y in _chunks(jets, 512):
        correct += int((model(x, m, TorchOps(plan)).argmax(-1) == y).sum())
        total += len(y)
    return correct / max(total, 1)


def finetune(model: HardwareModel, plan: QuantPlan, jets: Jets, epochs: int, lr: float = 1e-3,
             batch_size: int = 256, seed: int = 0) -> list[float]:
    """Quantisation-aware fine-tuning in place; the mean loss of each epoch."""
    if epochs <= 0 or len(jets[2]) == 0:
        return []
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(jets[2]), generator=gen)
        shuffled = (jets[0][perm], jets[1][perm], jets[2][perm])
        total, count = 0.0, 0
        for x, m, y in _chunks(shuffled, batch_size):
            loss = F.cross_entropy(model(x, m, TorchOps(plan)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + float(loss.detach()) * len(y), count + len(y)
        losses.append(total / max(count, 1))
    model.eval()
    return losses
