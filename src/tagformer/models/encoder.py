"""The encoder contract every zoo model implements: particles in, tokens and a jet embedding out.

An encoder maps a :class:`~tagformer.data.batch.JetBatch` whose features are already normalised to

- ``encode(batch) -> tokens`` of shape (B, N, D) with ``D = embed_dim``, in the batch's particle order,
  padded slots exactly zero (the same ``batch.mask`` marks the real ones);
- ``pool(tokens, mask) -> embedding`` of shape (B, J) with ``J = jet_dim``. Learned pooling (class
  attention, a jet-level MLP, the final norm) lives here, so a head is a single map of the embedding.

Encoders know nothing of classes, targets, losses or training; heads and tasks are added around them
(:class:`~tagformer.models.tagger.Tagger`). The constructor takes explicit arguments only: the data give
``in_features`` (and ``num_particles`` to models with a fixed sequence length); presets give the rest.
"""

from __future__ import annotations

import torch
from torch import nn

from tagformer.data.batch import JetBatch


class Encoder(nn.Module):
    """Base class of the zoo's encoders (see the module docstring for the contract).

    Attributes
    ----------
    embed_dim : width D of the per-particle tokens returned by :meth:`encode`.
    jet_dim : width J of the jet embedding returned by :meth:`pool`.
    legacy_head : attribute name of the classification ``nn.Linear`` in the model's pre-encoder
        (closed classifier) state dicts; :func:`tagformer.models.legacy.upgrade_state_dict` maps it.
    legacy_renames : ``(old prefix, new prefix)`` pairs for encoder keys renamed since then.
    """

    embed_dim: int
    jet_dim: int
    legacy_head: str = "head"
    legacy_renames: tuple[tuple[str, str], ...] = ()

    def encode(self, batch: JetBatch) -> torch.Tensor:
        raise NotImplementedError

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: JetBatch) -> torch.Tensor:
        """The jet embedding ``pool(encode(batch), batch.mask)`` (B, J)."""
        return self.pool(self.encode(batch), batch.mask)
