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


def _ops_run(fn) -> set[str]:
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    return {e.key for e in prof.key_averages()}


@pytest.mark.parametrize("gelu", [True, False])
def test_fused_linear_modules_equal_plain_ones_and_fuse_only_without_autograd(gelu):
    from tagformer.models.layers.fused import FusedLinear, FusedLinearGELU, _fused_available

    torch.manual_seed(0)
    plain = torch.nn.Linear(6, 5)
    fused = (FusedLinearGELU if gelu else FusedLinear)(plain)
    assert fused.weight is plain.weight  # same tensors, not copies
    x = torch.randn(3, 4, 6)
    want = torch.nn.functional.gelu(plain(x)) if gelu else plain(x)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), want)
        if _fused_available():
            assert "mkldnn::_linear_pointwise" in _ops_run(lambda: fused(x))
    out = fused(x.requires_grad_(True))  # autograd: the plain operations run and give gradients
    assert "mkldnn::_linear_pointwise" not in _ops_run(lambda: fused(x))
    out.sum().backward()
    assert x.grad is not None
    wide = (FusedLinearGELU if gelu else FusedLinear)(torch.nn.Linear(6, 5).double())
    with torch.no_grad():  # float64: the plain operations run
        assert wide(x.detach().double()).dtype == torch.float64
        assert "mkldnn::_linear_pointwise" not in _ops_run(lambda: wide(x.detach().double()))


def test_fold_batchnorm_equals_the_eval_mode_chain():
    from tagformer.models.layers.fused import fold_batchnorm

    torch.manual_seed(1)
    before, layer, after = torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)
    chain = torch.nn.Sequential(before, layer, after)
    chain(torch.randn(200, 4) * 2 + 1)  # running statistics
    chain.eval()
    x = torch.randn(10, 4)
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(layer, before, after)(x), chain(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fold_batchnorm(layer, None, after)(x), after(layer(x)), atol=1e-5, rtol=1e-5)
