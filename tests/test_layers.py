from __future__ import annotations

import pytest
import torch

from tagformer.models.layers import MLP, DyT, MaskedPool, make_norm


@pytest.mark.parametrize("mode", ["mean", "max", "sum", "meanmax"])
def test_masked_pool_ignores_padding(mode):
    x = torch.randn(3, 6, 4)
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], dtype=torch.bool)
    pool = MaskedPool(mode)
    out = pool(x, mask)
    assert out.shape == (3, pool.out_dim(4))
    poisoned = torch.where(mask[..., None], x, torch.full_like(x, 1e6))
    torch.testing.assert_close(pool(poisoned, mask), out)
    ref_mean = x[0, :2].mean(0)
    if mode == "mean":
        torch.testing.assert_close(out[0], ref_mean)
    if mode == "max":
        torch.testing.assert_close(out[0], x[0, :2].amax(0))


def test_pool_of_empty_jet_is_zero():
    out = MaskedPool("meanmax")(torch.randn(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))
    assert torch.equal(out, torch.zeros(1, 4))


def test_dyt_is_tanh_affine():
    dyt = DyT(3, alpha_init=2.0)
    x = torch.randn(5, 3)
    torch.testing.assert_close(dyt(x), torch.tanh(2.0 * x))
    assert isinstance(make_norm("layer", 3), torch.nn.LayerNorm)
    with pytest.raises(ValueError, match="unknown norm"):
        make_norm("batch", 3)


def test_mlp_shapes_and_errors():
    mlp = MLP([3, 8, 8, 2], norm="layer", dropout=0.1)
    assert mlp(torch.randn(4, 7, 3)).shape == (4, 7, 2)
    with pytest.raises(ValueError):
        MLP([3])
    with pytest.raises(ValueError, match="unknown activation"):
        MLP([3, 4, 2], activation="swishy")
