"""The transformer's three poolings (the registry-wide tests only see the smallest preset's default)."""

from __future__ import annotations

import pytest
import torch
from zoo_helpers import with_extra_padding, with_new_padding

from jetfactory import random_jets
from tagformer.models import create_model


@pytest.mark.parametrize("pooling", ["cls", "mean", "max"])
def test_pooling_ignores_padding_and_trains(pooling):
    torch.manual_seed(0)
    model = create_model("transformer_tiny", num_classes=5, in_features=3, pooling=pooling)
    batch = random_jets(5, 12, 3, seed=1, min_real=1)
    model.eval()
    with torch.no_grad():
        ref = model(batch)
        torch.testing.assert_close(model(with_new_padding(batch, seed=2)), ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(with_extra_padding(batch, 4, seed=3)), ref, atol=1e-5, rtol=1e-5)
    model.train()
    torch.nn.functional.cross_entropy(model(batch), batch.labels).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    if pooling == "cls":
        assert "encoder.cls_block.attn.in_proj.weight" in model.state_dict()
