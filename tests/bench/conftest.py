"""A toy registered model so the profiler's tests do not depend on the zoo's current state."""

from __future__ import annotations

from types import MappingProxyType

import pytest
import torch
from torch import nn

from tagformer.models import registry
from tagformer.models.encoder import Encoder
from tagformer.models.registry import Capabilities, register_model


@register_model("toyattn", presets={"toyattn": {"dim": 8}, "toyattn_wide": {"dim": 16}},
                capabilities=Capabilities())
class ToyAttention(Encoder):
    """Embed, one masked self-attention, masked mean pool (the tagger adds the linear head)."""

    def __init__(self, in_features: int, dim: int = 8) -> None:
        super().__init__()
        self.embed_dim = self.jet_dim = dim
        self.embed = nn.Linear(in_features, dim)
        self.qkv = nn.Linear(dim, 3 * dim)

    def encode(self, batch):  # type: ignore[no-untyped-def]
        mask = batch.mask
        x = self.embed(batch.features.masked_fill(~mask[..., None], 0.0))
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)  # one head: (B, 1, N, dim)
        x = x + nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])[:, 0]
        return x * mask[..., None].to(x.dtype)

    def pool(self, tokens, mask):  # type: ignore[no-untyped-def]
        m = mask[..., None].to(tokens.dtype)
        return (tokens * m).sum(1) / m.sum(1).clamp(min=1.0)


@pytest.fixture
def toy_zoo(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the registry see only the toy model; returns its name."""
    entry = ToyAttention.__tagformer_entry__
    monkeypatch.setattr(registry, "_discover", lambda: MappingProxyType({"toyattn": entry}))
    torch.manual_seed(0)
    return "toyattn"
