"""Helpers shared by the model tests: batch surgery and ONNX round trips."""

from __future__ import annotations

import math

import torch

from tagformer.data.batch import JetBatch


def with_new_padding(batch: JetBatch, seed: int, scale: float = 100.0) -> JetBatch:
    """Same jets, different garbage in every padded slot (features and p4)."""
    g = torch.Generator().manual_seed(seed)
    pad = ~batch.mask[..., None]
    feats = torch.where(pad, torch.randn(batch.features.shape, generator=g) * scale, batch.features)
    p4 = torch.where(pad, torch.randn(batch.p4.shape, generator=g) * scale, batch.p4)
    return batch.replace(features=feats, p4=p4)


def with_extra_padding(batch: JetBatch, extra: int, seed: int) -> JetBatch:
    """Append ``extra`` padded slots holding garbage to every jet."""
    g = torch.Generator().manual_seed(seed)
    b, _, f = batch.features.shape
    feats = torch.cat([batch.features, torch.randn(b, extra, f, generator=g) * 30], dim=1)
    p4 = torch.cat([batch.p4, torch.randn(b, extra, 4, generator=g) * 30], dim=1)
    mask = torch.cat([batch.mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    return batch.replace(features=feats, p4=p4, mask=mask)


def permute_real(batch: JetBatch, seed: int) -> JetBatch:
    """Shuffle the real particles of each jet among their own slots (padding stays where it is)."""
    g = torch.Generator().manual_seed(seed)
    b, n = batch.mask.shape
    keys = torch.rand(b, n, generator=g) + (~batch.mask).float() * 10 + torch.arange(n) * (~batch.mask) * 1e-3
    order = keys.argsort(dim=1)
    idx3 = order[..., None]
    return batch.replace(
        features=batch.features.gather(1, idx3.expand_as(batch.features)),
        p4=batch.p4.gather(1, idx3.expand_as(batch.p4)),
        mask=batch.mask.gather(1, order),
    )


def lorentz_transform(p4: torch.Tensor, beta_z: float, angle: float) -> torch.Tensor:
    """Rotate (px, py) by ``angle`` about the beam axis, then boost along z with velocity ``beta_z``."""
    px, py, pz, e = p4.double().unbind(-1)
    c, s = math.cos(angle), math.sin(angle)
    px, py = c * px - s * py, s * px + c * py
    gamma = 1.0 / math.sqrt(1.0 - beta_z**2)
    pz, e = gamma * (pz - beta_z * e), gamma * (e - beta_z * pz)
    return torch.stack([px, py, pz, e], -1).to(p4.dtype)


class TensorInputs(torch.nn.Module):
    """Wrap a model so that it takes plain tensors ``(features, p4, mask)`` (for ONNX export)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model(JetBatch(features=features, p4=p4, mask=mask))


def export_onnx(model: torch.nn.Module, example: JetBatch) -> bytes:
    """Export with dynamic batch and particle axes; returns the serialized ONNX model."""
    wrapped = TensorInputs(model).eval()
    with torch.no_grad():  # lgatr memoises tensors (lru_cache) on first use: fill them eagerly, not while tracing
        wrapped(example.features, example.p4, example.mask)
    batch, parts = torch.export.Dim("batch"), torch.export.Dim("particles")
    axes = {0: batch, 1: parts}
    program = torch.onnx.export(
        wrapped,
        (example.features, example.p4, example.mask),
        dynamo=True,
        dynamic_shapes={"features": axes, "p4": axes, "mask": axes},
        verbose=False,
    )
    return program.model_proto.SerializeToString()
