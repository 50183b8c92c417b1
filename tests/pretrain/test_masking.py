"""Particle masks: seeded, padding respected, never a whole jet."""

from __future__ import annotations

import torch

from tagformer.pretrain.masking import masked_counts, one_particle_mask, random_particle_mask, step_generator


def _mask() -> torch.Tensor:
    counts = torch.tensor([0, 1, 2, 3, 5, 10, 16, 16])
    return torch.arange(16).unsqueeze(0) < counts.unsqueeze(1)


def test_counts_round_and_clamp() -> None:
    k = masked_counts(_mask(), 0.4)
    assert k.tolist() == [0, 0, 1, 1, 2, 4, 6, 6]
    assert masked_counts(_mask(), 0.99).tolist() == [0, 0, 1, 2, 4, 9, 15, 15]


def test_masks_only_real_particles_and_never_all() -> None:
    mask = _mask()
    for seed in range(20):
        hidden = random_particle_mask(mask, 0.4, step_generator(seed, 0))
        assert not (hidden & ~mask).any()
        assert ((mask & ~hidden).sum(1) >= mask.sum(1).clamp_max(1)).all()
        assert ((mask.sum(1) < 2) | ((mask & ~hidden).sum(1) >= 1)).all()
        assert torch.equal(hidden.sum(1), masked_counts(mask, 0.4))


def test_seeded() -> None:
    mask = _mask()
    a = random_particle_mask(mask, 0.4, step_generator(3, 7))
    b = random_particle_mask(mask, 0.4, step_generator(3, 7))
    c = random_particle_mask(mask, 0.4, step_generator(3, 8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_choice_is_uniform_over_real_particles() -> None:
    mask = torch.arange(16).unsqueeze(0) < torch.tensor([[10]])
    hits = sum(random_particle_mask(mask, 0.3, step_generator(0, s)).float() for s in range(2000))
    share = hits[0, :10] / 2000
    assert torch.allclose(share, torch.full((10,), 0.3), atol=0.05)
    assert hits[0, 10:].sum() == 0


def test_one_particle_mask() -> None:
    mask = _mask()
    hidden = one_particle_mask(mask, step_generator(0, 0))
    assert hidden.sum(1).tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert not (hidden & ~mask).any()
