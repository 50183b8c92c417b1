"""Hardware variants against the original models: exact where the rewrite is exact, bounded where not."""

from __future__ import annotations

import pytest
import torch
from fpga_helpers import random_jets, reallike_jets, small_tagger, variant_and_plan

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError
from tagformer.export.fpga.hardware import HwTransformer, _head, table_softmax
from tagformer.export.fpga.hardware_linformer import HwLinformer
from tagformer.export.fpga.hardware_salt import conv_index
from tagformer.export.fpga.ops import TorchOps
from tagformer.export.fpga.variants import hardware_variant


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
    with pytest.raises(ModelError, match="supported: deepsets, transformer, salt, linformer, phat"):
        hardware_variant(tagger, "pointnet")


def test_salt_variant_equals_the_normless_model_in_float() -> None:
    """Fixed position grid, folded scale, merged convolution as a constant matrix and the masked table
    softmax (exact tables in float mode) reproduce the model on jets with padding after the real particles."""
    tagger = small_tagger("salt", num_particles=10, dim=8, num_heads=2, ffn_dim=8, num_layers=2, partitions=4,
                          norm="none", partition_rule="position")
    hw = hardware_variant(tagger, "salt")
    for n in (10, 7):  # n < num_particles: the first slots of the grid
        x, m = reallike_jets(64, n)
        with torch.no_grad():
            ours = hw(x, m, TorchOps())
        assert torch.allclose(ours, _tagger_logits(tagger, x, m), atol=1e-10)
    assert "no norms to remove" in hw.changes()[0]


def test_salt_conv_matrix_is_the_same_padded_convolution() -> None:
    g = torch.Generator().manual_seed(0)
    kernel, image = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(9, 4, generator=g,
                                                                                     dtype=torch.float64)
    flat = torch.cat([kernel.reshape(-1), kernel.new_zeros(1)])
    dense = flat[torch.as_tensor(conv_index(9, 4, 5))]
    conv = torch.nn.functional.conv2d(image[None, None], kernel[None, None], padding="same")[0, 0]
    assert torch.allclose(torch.einsum("njab,ab->nj", dense, image), conv, atol=1e-12)


def test_salt_needs_the_position_rule() -> None:
    tagger = small_tagger("salt", num_particles=8, dim=8, num_heads=2, ffn_dim=8, partition_rule="rank")
    with pytest.raises(ModelError, match="partition_rule='position'"):
        hardware_variant(tagger, "salt")


def test_salt_with_norms_drops_them_and_says_so() -> None:
    tagger = small_tagger("salt", num_particles=8, dim=8, num_heads=2, ffn_dim=8, partition_rule="position",
                          norm="dyt")
    assert "norms removed (DyT" in hardware_variant(tagger, "salt").changes()[0]


def test_linformer_rewrite_equals_the_normless_model_in_float() -> None:
    tagger = small_tagger("linformer", num_particles=10, dim=8, num_heads=2, ffn_dim=8, num_layers=2, k=4,
                          norm="none")
    hw = HwLinformer(tagger.encoder, _head(tagger), activation="gelu").double()
    for n in (10, 6):
        x, m = reallike_jets(64, n)
        with torch.no_grad():
            ours = hw(x, m, TorchOps())
        assert torch.allclose(ours, _tagger_logits(tagger, x, m), atol=1e-10)
    with pytest.raises(ModelError, match="at most 10 particles"):
        hw(*reallike_jets(4, 12), TorchOps())
    relu = hardware_variant(tagger, "linformer")
    assert "ReLU instead of GELU" in " ".join(relu.changes())
