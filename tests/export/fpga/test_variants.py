"""Hardware variants against the original models: exact where the rewrite is exact, bounded where not."""

from __future__ import annotations

import pytest
import torch
from fpga_helpers import random_jets, small_tagger, variant_and_plan

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError
from tagformer.export.fpga.hardware import HwTransformer, _head, hardware_variant, table_softmax
from tagformer.export.fpga.ops import TorchOps


def _tagger_logits(tagger, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    batch = JetBatch(features=x, p4=torch.zeros(*x.shape[:2], 4, dtype=torch.float64), mask=m.bool())
    with torch.no_grad():
        return tagger.double().forward_heads(batch)["classification"]


def test_deepsets_variant_equals_the_model_in_float() -> None:
    tagger = small_tagger("deepsets", phi_dims=(8, 8), rho_dims=(8,))
    hw = hardware_variant(tagger, "deepsets")
    x, m = random_jets(64, 8)
    with torch.no_grad():
        ours = hw(x, m, TorchOps())
    assert torch.allclose(ours, _tagger_logits(tagger, x, m), atol=1e-10)


def test_transformer_rewrite_equals_the_normless_model_in_float() -> None:
    """Weight slicing, scale folding, masked max-shifted softmax and masked max pooling are exact: with
    the model's own activation (GELU) and norms off, the variant reproduces the model."""
    tagger = small_tagger("transformer", dim=8, num_heads=2, ffn_dim=8, num_layers=2, pooling="max", norm="none")
    hw = HwTransformer(tagger.encoder, _head(tagger), activation="gelu").double()
    x, m = random_jets(64, 6)
    with torch.no_grad():
        ours = hw(x, m, TorchOps())
    assert torch.allclose(ours, _tagger_logits(tagger, x, m), atol=1e-10)


def test_scale_folding_is_exact() -> None:
    tagger = small_tagger("transformer", dim=8, num_heads=2, ffn_dim=8, num_layers=1, pooling="max")
    folded = HwTransformer(tagger.encoder, _head(tagger), scale_folded=True).double()
    unfolded = HwTransformer(tagger.encoder, _head(tagger), scale_folded=False).double()
    x, m = random_jets(64, 6)
    with torch.no_grad():
        assert torch.allclose(folded(x, m, TorchOps()), unfolded(x, m, TorchOps()), atol=1e-12)
    assert torch.equal(folded.blocks[0].q.weight, unfolded.blocks[0].q.weight / 2)  # head_dim 4


def test_table_softmax_error_is_bounded() -> None:
    tagger = small_tagger("transformer", dim=8, num_heads=2, ffn_dim=8, num_layers=1, pooling="max")
    _, plan = variant_and_plan(tagger, "transformer", 8, bits=8)
    g = torch.Generator().manual_seed(0)
    s = (torch.randn(500, 8, generator=g, dtype=torch.float64) * 2).clamp(-7.9, 7.9)
    keys = (torch.rand(500, 8, generator=g) < 0.7).double()
    keys[:, 0] = 1.0
    s = torch.round(s * 8) / 8  # scores on a 1/8 grid, as after their quantiser
    exact = torch.softmax(s.masked_fill(keys == 0, float("-inf")), dim=-1)
    with torch.no_grad():
        table = table_softmax(s, keys, TorchOps(plan), big=32.0)
        float_ops = table_softmax(s, keys, TorchOps(), big=1e4)
    assert torch.allclose(float_ops, exact, atol=1e-12)
    # bound: exp and 1/sum tables round to 2**-8 each; the sum (>= 1) enters 1/sum on a 1/16 grid (N = 8:
    # 4 integer bits of 8), i.e. up to 1/32 relative error on weights <= 1
    assert (table - exact).abs().max() < 2**-8 * 2 + 1 / 32
    assert torch.equal(table[keys == 0], torch.zeros_like(table[keys == 0]))


def test_unsupported_model_lists_the_supported_ones() -> None:
    tagger = small_tagger("pointnet_tiny")
    with pytest.raises(ModelError, match="supported: deepsets, transformer"):
        hardware_variant(tagger, "pointnet")
