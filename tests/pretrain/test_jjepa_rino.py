"""J-JEPA and RINO: shapes, finite and decreasing losses, EMA teachers move without gradients."""

from __future__ import annotations

import pytest
import torch
from helpers import fitted_backbone, physical_batch, train_steps

from tagformer.errors import ConfigError
from tagformer.pretrain.config import JJEPAConfig, RINOConfig
from tagformer.pretrain.jjepa import JetJEPA, choose_targets, pool_subjets
from tagformer.pretrain.masking import step_generator
from tagformer.pretrain.rino import RINO, teacher_temperature


def _jjepa(model: str):
    batch = physical_batch()
    backbone = fitted_backbone(model, batch)
    torch.manual_seed(0)
    return batch, backbone, JetJEPA(backbone, JJEPAConfig())


def _rino(model: str, **cfg):
    batch = physical_batch()
    backbone = fitted_backbone(model, batch)
    torch.manual_seed(0)
    cfg = {"global_views": [0, 8], "local_views": [4, 2], "out_dim": 64, "center_momentum": 0.999, **cfg}
    return batch, backbone, RINO(backbone, RINOConfig(**cfg), "part_kin", 16)


def test_targets_are_leading_subjets_and_leave_context() -> None:
    mask = torch.arange(20).unsqueeze(0) < torch.tensor([[1], [2], [5], [10], [20]])
    for seed in range(10):
        t = choose_targets(mask, 10, 0.3, step_generator(seed, 0))
        assert not (t & ~mask).any() and not t[:, 10:].any()
        assert t.sum(1).tolist() == [0, 1, 2, 3, 3]
        assert ((mask & ~t).sum(1) >= 1).all()


def test_pool_subjets_means() -> None:
    tokens = torch.tensor([[[1.0], [3.0], [10.0], [7.0]]])
    assign = torch.tensor([[0, 0, 1, -1]])
    assert pool_subjets(tokens, assign, 3)[0, :, 0].tolist() == [2.0, 10.0, 0.0]


@pytest.mark.parametrize("model", ["transformer_tiny", "part_tiny", "deepsets_tiny"])
def test_jjepa_learns_and_its_target_encoder_follows_by_ema(model: str) -> None:
    batch, backbone, method = _jjepa(model)
    before = [p.clone() for p in method.target.parameters()]
    loss, values = method.loss(backbone, batch, step_generator(0, 0))
    assert loss.ndim == 0 and torch.isfinite(loss) and values["target_std"] > 0
    loss.backward()
    assert all(p.grad is None for p in method.target.parameters())
    assert method.predictor.mask_token.grad is not None
    backbone.zero_grad()
    losses = train_steps(backbone, method, batch, 40)
    assert max(losses[-5:]) < 0.5 * losses[0], losses[::8]
    assert any(not torch.equal(a, b) for a, b in zip(before, method.target.parameters()))
    assert all(not p.requires_grad for p in method.target.parameters())


@pytest.mark.parametrize("model", ["transformer_tiny", "part_tiny", "deepsets_tiny"])
def test_rino_learns_and_its_teacher_follows_by_ema(model: str) -> None:
    batch, backbone, method = _rino(model)
    views = method.views(batch)
    assert [int(v.mask.sum(1).max()) for v in views[1:]] == [8, 4, 2]
    before = [p.clone() for p in method.teacher.parameters()]
    losses = train_steps(backbone, method, batch, 40)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert max(losses[-5:]) < 0.9 * losses[0], losses[::8]
    assert any(not torch.equal(a, b) for a, b in zip(before, method.teacher.parameters()))
    assert all(p.grad is None for p in method.teacher.parameters())
    assert float(method.progress) == pytest.approx(1.0)


def test_teacher_temperature_schedule() -> None:
    cfg = RINOConfig()
    assert teacher_temperature(0.0, cfg) == pytest.approx(0.04)
    assert teacher_temperature(0.15, cfg) == pytest.approx(0.055)
    assert teacher_temperature(0.5, cfg) == pytest.approx(0.07)


def test_rino_refuses_feature_sets_subjets_cannot_have() -> None:
    batch = physical_batch()
    backbone = fitted_backbone("transformer_tiny", batch)
    with pytest.raises(ConfigError, match="part_full"):
        RINO(backbone, RINOConfig(), "part_full", 16)
