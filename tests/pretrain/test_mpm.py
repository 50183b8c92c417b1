"""Masked particle modelling on zoo encoders: learns, the mask token trains, nothing of a hidden particle leaks."""

from __future__ import annotations

import pytest
import torch
from helpers import fitted_backbone, physical_batch, train_steps

from tagformer.pretrain.backbone import hide_p4
from tagformer.pretrain.config import MPMConfig
from tagformer.pretrain.factory import reads_p4
from tagformer.pretrain.masking import step_generator
from tagformer.pretrain.mpm import MaskedParticleModelling, particle_kinematics


def _method(model: str, backbone, **cfg) -> MaskedParticleModelling:
    torch.manual_seed(0)
    return MaskedParticleModelling(backbone.input_norm.mean.numel(), backbone.encoder.embed_dim, reads_p4(model),
                                   MPMConfig(**cfg))


@pytest.mark.parametrize("model", ["transformer_tiny", "part_tiny", "phat_small"])
def test_loss_decreases_on_a_fixed_batch(model: str) -> None:
    batch = physical_batch()
    backbone = fitted_backbone(model, batch)
    method = _method(model, backbone)
    losses = train_steps(backbone, method, batch, 50)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert max(losses[-5:]) < 0.85 * losses[0], losses[::10]


def test_mask_token_receives_gradients() -> None:
    batch = physical_batch()
    backbone = fitted_backbone("transformer_tiny", batch)
    method = _method("transformer_tiny", backbone)
    loss, _ = method.loss(backbone, batch, step_generator(0, 0))
    loss.backward()
    assert method.mask_token.grad is not None and method.mask_token.grad.abs().sum() > 0
    assert all(p.grad is not None for p in method.head.parameters())


@pytest.mark.parametrize("model", ["transformer_tiny", "part_tiny"])
def test_hidden_particles_do_not_leak(model: str) -> None:
    """Changing a hidden particle's features and four-momentum changes no prediction."""
    batch = physical_batch(batch=6)
    backbone = fitted_backbone(model, batch).eval()
    method = _method(model, backbone).eval()
    hidden = method.choose(batch.mask, step_generator(0, 0))
    other = batch.replace(features=torch.where(hidden.unsqueeze(-1), batch.features * 3 + 1, batch.features),
                          p4=torch.where(hidden.unsqueeze(-1), batch.p4 * 2.5, batch.p4))
    with torch.no_grad():
        a = backbone.encode(method.masked_input(backbone, batch, hidden)[1])
        b = backbone.encode(method.masked_input(backbone, other, hidden)[1])
    assert torch.allclose(a, b, atol=1e-5)


def test_hide_p4_uses_visible_particles_only() -> None:
    p4 = torch.tensor([[[1.0, 0, 0, 1], [3.0, 0, 0, 3], [100.0, 0, 0, 100], [9.0, 9, 9, 9]]])
    mask = torch.tensor([[True, True, True, False]])
    hidden = torch.tensor([[False, False, True, False]])
    out = hide_p4(p4, mask, hidden)
    assert torch.equal(out[0, 2], torch.tensor([2.0, 0, 0, 2]))
    assert torch.equal(out[0, [0, 1, 3]], p4[0, [0, 1, 3]])


def test_one_particle_recipe_learns() -> None:
    batch = physical_batch()
    backbone = fitted_backbone("transformer_tiny", batch)
    method = _method("transformer_tiny", backbone, recipe="one_particle")
    losses = train_steps(backbone, method, batch, 60)
    assert min(losses[-5:]) < 0.6 * losses[0], losses[::10]
    _, values = method.loss(backbone, batch, step_generator(0, 0))
    assert set(values) == {"loss", "pt_rmse", "eta_l1", "phi_cos", "e_rmse"}


def test_particle_kinematics() -> None:
    p4 = torch.tensor([[3.0, 4.0, 0.0, 5.0]])
    jet = torch.tensor([[10.0, 0.0, 0.0, 10.0]])
    k = particle_kinematics(p4, jet)[0]
    assert k[0].item() == pytest.approx(torch.log(torch.tensor(5.0)).item())
    assert k[1].item() == pytest.approx(0.0, abs=1e-6)
    assert k[2].item() == pytest.approx(torch.atan2(torch.tensor(4.0), torch.tensor(3.0)).item())
    assert k[3].item() == pytest.approx(torch.log(torch.tensor(5.0)).item())


def test_encoders_whose_tokens_ignore_other_particles_are_refused() -> None:
    from tagformer.errors import ConfigError
    from tagformer.pretrain.config import build_pretrain_config
    from tagformer.pretrain.factory import build_method

    batch = physical_batch()
    for model in ("deepsets_tiny", "pointnet_tiny"):
        backbone = fitted_backbone(model, batch)
        cfg = build_pretrain_config(model=model, data="x.h5", method="mpm", overrides=["data.num_particles=16"])
        with pytest.raises(ConfigError, match="depends on its own particle only"):
            build_method(cfg, backbone, 7)
    backbone = fitted_backbone("transformer_tiny", batch)
    cfg = build_pretrain_config(model="transformer_tiny", data="x.h5", method="mpm",
                                overrides=["data.num_particles=16"])
    assert isinstance(build_method(cfg, backbone, 7), MaskedParticleModelling)
