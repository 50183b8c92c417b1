"""Packing real particles into one (M, C) row block and back (padding-free per-particle compute)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Packing:
    """Positions of the real particles of a padded (B, N) batch, flattened to ``b * N + n``.

    Per-particle layers (norms, linear layers, FFNs) are run on the packed ``(M, C)`` rows only;
    :meth:`unpack` restores the padded layout (zeros in padded slots) where attention needs it.
    The number of rows depends on the data, so packing is for eager execution, not export.
    """

    index: torch.Tensor
    batch: int
    length: int

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> Packing:
        b, n = mask.shape
        return cls(mask.reshape(-1).nonzero().squeeze(1), b, n)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (M, C)."""
        return x.reshape(self.batch * self.length, -1).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(M, C) -> (B, N, C) with zeros in padded slots."""
        out = x.new_zeros(self.batch * self.length, x.shape[-1])
        return out.index_copy(0, self.index, x).view(self.batch, self.length, -1)
