"""The one batch contract every model and loader shares (DESIGN.md §3)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


@dataclass
class JetBatch:
    """A batch of jets, channels last.

    Attributes
    ----------
    features : (B, N, F) float32
        Per-particle input features of the chosen feature set (already normalised).
    p4 : (B, N, 4) float32
        Four-momenta (px, py, pz, E) in GeV, in the same particle order as ``features``.
    mask : (B, N) bool
        True = real particle. Padded slots may hold any value; no model may let them matter.
    labels : (B,) int64, optional
        Class indices (absent at inference time).
    jet : (B, J) float32, optional
        Jet-level features.
    weight : (B,) float32, optional
        Per-jet weights.
    """

    features: torch.Tensor
    p4: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor | None = None
    jet: torch.Tensor | None = None
    weight: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_particles(self) -> int:
        return int(self.features.shape[1])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> JetBatch:
        """Return a copy with every tensor moved to ``device``."""
        moved = {
            f.name: (v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }
        return JetBatch(**moved)

    def select(self, index: torch.Tensor | slice) -> JetBatch:
        """Return the jets at ``index`` (a slice, boolean mask or index tensor)."""
        picked = {
            f.name: (v[index] if isinstance(v, torch.Tensor) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
        }
        return JetBatch(**picked)

    def replace(self, **changes: torch.Tensor | None) -> JetBatch:
        return replace(self, **changes)

    def validate(self) -> JetBatch:
        """Check shapes and dtypes; raises ``ValueError`` (an internal contract violation)."""
        b, n = self.features.shape[:2]
        if self.features.ndim != 3:
            raise ValueError(f"features must be (B, N, F), got {tuple(self.features.shape)}")
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
        return self
