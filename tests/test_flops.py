from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jetfactory import random_jets
from tagformer.bench.flops import count_flops, flops_per_jet


def test_linear_flops_are_twice_macs():
    lin = nn.Linear(8, 4)
    assert count_flops(lin, torch.randn(3, 8)) == 2 * 3 * 8 * 4


def test_cpu_attention_is_counted():
    q = torch.randn(2, 4, 30, 16)
    macs_per_matmul = 2 * 4 * 30 * 30 * 16
    expected = 2 * 2 * macs_per_matmul  # two matmuls (QK^T and AV), 2 FLOPs per MAC
    assert count_flops(F.scaled_dot_product_attention, q, q, q) == expected
    mask = torch.ones(2, 1, 30, 30, dtype=torch.bool)
    assert count_flops(F.scaled_dot_product_attention, q, q, q, attn_mask=mask) == expected


def test_flops_per_jet_divides_by_batch_and_restores_mode():
    class PerParticle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 5)

        def forward(self, batch):
            return self.lin(batch.features).sum(1)

    model = PerParticle().train()
    batch = random_jets(batch=4, particles=10, features=3)
    assert flops_per_jet(model, batch) == 2 * 10 * 3 * 5
    assert model.training
