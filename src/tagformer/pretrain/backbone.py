"""What pretraining trains and saves: a zoo encoder with its input normalisation (no heads).

:class:`Backbone` has exactly the ``input_norm.*`` and ``encoder.*`` weights of a
:class:`~tagformer.models.tagger.Tagger` built for the same model and data, so its state dict loads into one
(:func:`tagformer.train.init_from.load_pretrained_encoder`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.encoder import Encoder
from tagformer.models.input_norm import InputNorm


class Backbone(nn.Module):
    """``input_norm`` + ``encoder``; ``normalise``, ``encode`` and ``embed`` as the tagger's."""

    def __init__(self, encoder: Encoder, in_features: int) -> None:
        super().__init__()
        self.input_norm = InputNorm(in_features)
        self.encoder = encoder

    def normalise(self, batch: JetBatch) -> JetBatch:
        return batch.replace(features=self.input_norm(batch.features, batch.mask))

    def encode(self, normalised: JetBatch) -> torch.Tensor:
        """Tokens (B, N, D) of an already normalised batch."""
        return self.encoder.encode(normalised)

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder.pool(tokens, mask)

    def embed(self, batch: JetBatch) -> torch.Tensor:
        """Jet embedding (B, J) of a raw batch."""
        return self.encoder(self.normalise(batch))


def build_backbone(model: str, overrides: dict[str, Any], in_features: int, num_particles: int | None,
                   normaliser_state: dict[str, Any] | None = None) -> Backbone:
    """The backbone of ``model`` (a model or preset name) with ``overrides``; its input normalisation set to
    ``normaliser_state`` when given."""
    from tagformer.models.registry import create_encoder

    encoder = create_encoder(model, in_features=in_features, num_particles=num_particles, **overrides)
    backbone = Backbone(encoder, in_features)
    if normaliser_state is not None:
        backbone.input_norm.set_stats(normaliser_state["mean"], normaliser_state["std"])
    return backbone


def hide_p4(p4: torch.Tensor, mask: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """``p4`` with the ``hidden`` particles' four-momenta replaced by the mean four-momentum of the jet's
    visible particles: encoders that read ``p4`` (pair features, Lorentz inputs, cell grids) learn nothing of
    a hidden particle from it (the placeholder is a function of the visible particles only)."""
    visible = (mask & ~hidden).unsqueeze(-1).to(p4.dtype)
    mean = (p4 * visible).sum(dim=1, keepdim=True) / visible.sum(dim=1, keepdim=True).clamp_min(1.0)
    return torch.where(hidden.unsqueeze(-1), mean.expand_as(p4), p4)
