"""Tagger = InputNorm + encoder + heads: what :func:`tagformer.models.create_model` returns.

``forward(batch)`` takes **raw** (un-normalised) features and returns the primary head's output (the
class logits for a classifier), exactly like the closed classifiers of earlier versions, so training,
evaluation and export call it the same way. The pieces are reachable on their own:

- ``tagger.normalise(batch)``: the batch with standardised features (statistics are buffers);
- ``tagger.forward_features(batch)``: per-particle tokens (B, N, D) of the encoder;
- ``tagger.embed(batch)``: the jet embedding (B, J);
- ``tagger.forward_heads(batch)``: a dict ``{head name: output}``, one encoder pass for all heads.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.encoder import Encoder
from tagformer.models.input_norm import InputNorm


class Tagger(nn.Module):
    """An encoder with its input normalisation and named heads.

    Parameters
    ----------
    encoder : any :class:`~tagformer.models.encoder.Encoder`.
    heads : head name -> module mapping the jet embedding (B, J) to that head's output.
    in_features : F, the width of the raw per-particle features (sizes the input normalisation).
    primary : the head whose output :meth:`forward` returns (default: the first).
    """

    def __init__(self, encoder: Encoder, heads: Mapping[str, nn.Module], in_features: int,
                 primary: str | None = None) -> None:
        super().__init__()
        if not heads:
            raise ValueError("a tagger needs at least one head")
        self.input_norm = InputNorm(in_features)
        self.encoder = encoder
        self.heads = nn.ModuleDict(dict(heads))
        self.primary = primary or next(iter(heads))
        if self.primary not in self.heads:
            raise ValueError(f"primary head {self.primary!r} is not one of {list(self.heads)}")

    def normalise(self, batch: JetBatch) -> JetBatch:
        return batch.replace(features=self.input_norm(batch.features, batch.mask))

    def forward_features(self, batch: JetBatch) -> torch.Tensor:
        """Per-particle tokens (B, N, D), padded slots zero."""
        return self.encoder.encode(self.normalise(batch))

    def embed(self, batch: JetBatch) -> torch.Tensor:
        """Jet embedding (B, J)."""
        return self.encoder(self.normalise(batch))

    def forward_heads(self, batch: JetBatch) -> dict[str, torch.Tensor]:
        """Every head's output from one encoder pass."""
        embedding = self.embed(batch)
        return {name: head(embedding) for name, head in self.heads.items()}

    def forward(self, batch: JetBatch) -> torch.Tensor:
        return self.heads[self.primary](self.embed(batch))

    def replace_heads(self, heads: Mapping[str, nn.Module], primary: str | None = None) -> Tagger:
        """A tagger sharing this one's input normalisation and encoder (same modules) with new heads."""
        out = Tagger(self.encoder, heads, self.input_norm.mean.numel(), primary)
        out.input_norm = self.input_norm
        return out
