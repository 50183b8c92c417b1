"""tagformer explain: integrated gradients (completeness) and the faithfulness test."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from jetfactory import random_jets
from tagformer.data.batch import JetBatch
from tagformer.eval.explain.attributions import integrated_gradients, rank_profile, top_k_share
from tagformer.eval.explain.faithfulness import faithfulness, remove_particles, top_k
from tagformer.models import create_model


class LeadingParticleModel(nn.Module):
    """Two-class model that reads only feature 1 of the particle in slot 0 (the leading one)."""

    def forward(self, batch: JetBatch) -> torch.Tensor:
        x = batch.features[:, 0, 1]
        return torch.stack([-x, x], dim=-1)


def leading_particle_jets(jets: int = 400, particles: int = 10, seed: int = 0) -> JetBatch:
    """The label is the sign of the leading particle's feature 1; every other particle carries noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (jets,), generator=g)
    n_real = torch.randint(3, particles + 1, (jets,), generator=g)
    mask = torch.arange(particles)[None, :] < n_real[:, None]
    feats = torch.randn(jets, particles, 3, generator=g)
    feats[:, 0, 1] = (2 * labels - 1) * (0.5 + torch.rand(jets, generator=g))
    feats = feats * mask[..., None]
    p4 = torch.rand(jets, particles, 4, generator=g) * mask[..., None]
    return JetBatch(features=feats, p4=p4, mask=mask, labels=labels)


def test_integrated_gradients_satisfy_completeness_on_a_transformer():
    torch.manual_seed(0)
    model = create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=16).eval()
    model.input_norm.set_stats([3.0, 0.0, 0.0], [1.5, 0.2, 0.2])
    batch = random_jets(6, 16, 3, 5, seed=4, min_real=2)
    attr = integrated_gradients(model, batch, steps=48, batch_size=3)
    assert attr.features.shape == batch.features.shape
    assert (attr.features[~batch.mask] == 0).all(), "padded particles get no attribution"
    total = attr.features.sum((1, 2))
    torch.testing.assert_close(total - attr.gap, attr.delta, atol=1e-4, rtol=0)
    assert (attr.delta.abs() <= 1e-2 * attr.gap.abs().clamp(min=1.0)).all(), (attr.delta, attr.gap)
    with torch.no_grad():
        assert (attr.target == model(batch).argmax(-1)).all()


def test_integrated_gradients_of_a_linear_model_are_exact():
    """For f = sum_i w . x_i, IG gives (x - baseline) * w exactly, whatever the number of steps."""
    w = torch.tensor([0.5, -2.0, 1.0])

    class Linear(nn.Module):
        def forward(self, batch: JetBatch) -> torch.Tensor:
            s = (batch.features * w * batch.mask[..., None]).sum((1, 2))
            return torch.stack([torch.zeros_like(s), s], -1)

    batch = random_jets(4, 8, 3, 2, seed=5)
    attr = integrated_gradients(Linear(), batch, target=torch.ones(4, dtype=torch.long), steps=4)
    expected = batch.features * w * batch.mask[..., None]
    torch.testing.assert_close(attr.features, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attr.delta, torch.zeros(4), atol=1e-4, rtol=0)


def test_faithfulness_of_a_leading_particle_model_drops_to_chance():
    model = LeadingParticleModel()
    batch = leading_particle_jets()
    attr = integrated_gradients(model, batch, steps=8, batch_size=200)
    scores = attr.per_particle.abs()
    assert (scores[:, 0] > 0).all() and (scores[:, 1:] == 0).all()
    result = faithfulness(model, batch, {"attribution": scores, "attention": None}, repeats=2)
    assert result["accuracy"] == 1.0
    assert set(result["curves"]) == {"attribution", "random"}, "a None ranking is skipped"
    chance = result["chance"]
    for acc in result["curves"]["attribution"]:
        assert abs(acc - chance) < 0.1, result
    assert result["curves"]["random"][0] > 0.8, result  # one random particle is rarely the leading one
    assert result["curves"]["random"][0] > result["curves"]["attribution"][0] + 0.2


def test_remove_particles_compacts_survivors_in_order():
    feats = torch.arange(1.0, 6.0).view(1, 5, 1)
    batch = JetBatch(features=feats, p4=feats.expand(1, 5, 4).clone(),
                     mask=torch.tensor([[True, True, True, True, False]]))
    out = remove_particles(batch, torch.tensor([[True, False, True, False, False]]))
    assert out.mask.tolist() == [[True, True, False, False, False]]
    assert out.features[0, :, 0].tolist() == [2.0, 4.0, 0.0, 0.0, 0.0]
    assert out.p4[0, :2, 0].tolist() == [2.0, 4.0]


def test_top_k_keeps_at_least_one_particle():
    mask = torch.tensor([[True, True, False], [True, True, True]])
    scores = torch.tensor([[1.0, 2.0, 9.0], [3.0, 1.0, 2.0]])
    assert top_k(scores, mask, 8).tolist() == [[False, True, False], [True, False, True]]
    assert top_k(scores, mask, 1).tolist() == [[False, True, False], [True, False, False]]


def test_rank_profile_and_top_k_share():
    values = torch.tensor([[1.0, 3.0, 0.0], [2.0, 2.0, 0.0]])
    rank = torch.tensor([[1, 0, 2], [0, 1, 2]])
    assert rank_profile(values, rank) == pytest.approx([(0.75 + 0.5) / 2, (0.25 + 0.5) / 2, 0.0])
    assert top_k_share(values, [1, 2, 8]) == pytest.approx([(0.75 + 0.5) / 2, 1.0, 1.0])
