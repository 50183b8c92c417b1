"""The one batch contract every model, task and loader shares: :class:`JetBatch`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import torch


def _map_value(fn: Callable[[torch.Tensor], torch.Tensor], value: Any) -> Any:
    """``fn`` applied to a tensor, or to every tensor of a ``{name: tensor}`` dict; anything else as is."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: fn(v) for k, v in value.items()}
    return value


@dataclass
class JetBatch:
    """A batch of jets, channels last.

    Attributes
    ----------
    features : (B, N, F) float32
        Per-particle input features of the chosen feature set, **raw** (not standardised: the model's
        :class:`~tagformer.models.input_norm.InputNorm` does that); padded slots are 0.
    p4 : (B, N, 4) float32
        Four-momenta (px, py, pz, E) in GeV, in the same particle order as ``features``.
    mask : (B, N) bool
        True = real particle. Padded slots may hold any value; no model may let them matter.
    labels : (B,) int64, optional
        Class indices (absent at inference time).
    jet : (B, J) float32, optional
        Jet-level features.
    weight : (B,) float32, optional
        Per-jet weights (losses are weighted means over the batch when present).
    targets : {name: (B, ...) tensor}, optional
        Further named per-jet targets for the tasks (e.g. ``{"mass": (B,)}``); the class labels stay in
        ``labels``.
    """

    features: torch.Tensor
    p4: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor | None = None
    jet: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    targets: dict[str, torch.Tensor] | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_particles(self) -> int:
        return int(self.features.shape[1])

    def map_tensors(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> JetBatch:
        """A batch of the same class with ``fn`` applied to every tensor (``targets`` values included)."""
        return type(self)(**{f.name: _map_value(fn, getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device | str, non_blocking: bool = False) -> JetBatch:
        """Return a copy with every tensor moved to ``device``."""
        return self.map_tensors(lambda t: t.to(device, non_blocking=non_blocking))

    def select(self, index: torch.Tensor | slice) -> JetBatch:
        """Return the jets at ``index`` (a slice, boolean mask or index tensor)."""
        return self.map_tensors(lambda t: t[index])

    def replace(self, **changes: Any) -> JetBatch:
        return replace(self, **changes)

    def validate(self) -> JetBatch:
        """Check shapes and dtypes; raises ``ValueError`` (an internal contract violation)."""
        if self.features.ndim != 3:
            raise ValueError(f"features must be (B, N, F), got {tuple(self.features.shape)}")
        b, n = self.features.shape[:2]
        if tuple(self.p4.shape) != (b, n, 4):
            raise ValueError(f"p4 must be ({b}, {n}, 4), got {tuple(self.p4.shape)}")
        if tuple(self.mask.shape) != (b, n) or self.mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool ({b}, {n}), got {self.mask.dtype} {tuple(self.mask.shape)}")
        if self.labels is not None and tuple(self.labels.shape) != (b,):
            raise ValueError(f"labels must be ({b},), got {tuple(self.labels.shape)}")
        if self.jet is not None and (self.jet.ndim != 2 or self.jet.shape[0] != b):
            raise ValueError(f"jet must be ({b}, J), got {tuple(self.jet.shape)}")
        if self.weight is not None and tuple(self.weight.shape) != (b,):
            raise ValueError(f"weight must be ({b},), got {tuple(self.weight.shape)}")
        for name, value in (self.targets or {}).items():
            if not isinstance(value, torch.Tensor) or value.ndim < 1 or value.shape[0] != b:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"targets[{name!r}] must be a tensor with {b} rows, got {shape}")
        return self
