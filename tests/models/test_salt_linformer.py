"""SAL-T partitioning, Linformer limits, and the attention maps both record."""

from __future__ import annotations

import pytest
import torch

from jetfactory import random_jets
from tagformer.errors import ModelError
from tagformer.models import create_model
from tagformer.models.attention.salt import partition_weights


def test_partitions_follow_rank_among_real_particles():
    mask = torch.tensor([[True] * 10 + [False] * 2])
    weights = torch.ones(1, 4, 3)
    w, present = partition_weights(mask, weights)
    groups = w[0, 0].argmax(dim=-1)[:10].tolist()
    assert groups == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]  # floor(rank * 4 / 10)
    assert (w[0, 0, 10:] == 0).all() and present.all()


def test_partition_slot_weights_are_position_in_group():
    mask = torch.ones(1, 6, dtype=torch.bool)
    weights = torch.arange(2 * 3, dtype=torch.float32).view(1, 2, 3)  # group g slot s -> 3 g + s
    w, _ = partition_weights(mask, weights)
    assert w[0, 0].sum(-1).tolist() == [0, 1, 2, 3, 4, 5]


def test_few_particles_leave_groups_empty_without_nan():
    model = create_model("salt", num_classes=5, in_features=3, num_particles=30).eval()
    batch = random_jets(3, 30, 3, 5, seed=1, min_real=1)
    batch = batch.replace(mask=torch.arange(30)[None] < torch.tensor([[1], [2], [3]]))
    assert torch.isfinite(model(batch)).all()


def test_salt_depends_on_order():
    torch.manual_seed(0)
    model = create_model("salt", num_classes=5, in_features=3, num_particles=16).eval()
    batch = random_jets(4, 16, 3, 5, seed=2, min_real=16)
    flipped = batch.replace(features=batch.features.flip(1), p4=batch.p4.flip(1))
    assert not torch.allclose(model(batch), model(flipped))


def test_linformer_rejects_more_particles_than_built_for():
    model = create_model("linformer_tiny", num_classes=5, in_features=3, num_particles=8)
    with pytest.raises(ModelError, match="num_particles"):
        model(random_jets(2, 12, 3, 5))


@pytest.mark.parametrize("heights", [(1, 3, 5), (3,), (1, 5)])
def test_salt_merged_score_convolution_equals_average_of_convolutions(heights):
    from tagformer.models.attention.salt import SALTAttention

    torch.manual_seed(0)
    attn = SALTAttention(dim=16, num_heads=4, num_particles=20, partitions=4, conv_heights=heights)
    for conv in attn.convs:  # non-trivial biases too
        torch.nn.init.normal_(conv.bias)
    scores = torch.randn(6, 1, 20, 4)
    expected = torch.stack([conv(scores) for conv in attn.convs]).mean(0)
    weight, bias = attn.merged_conv()
    merged = torch.nn.functional.conv2d(scores, weight, bias, padding="same")
    torch.testing.assert_close(merged, expected, rtol=1e-5, atol=1e-6)


def test_salt_probe_records_the_applied_partition_weights():
    """The recorded (B, H, N, P) weights are the ones applied: mapped through the value weights of the groups
    they reproduce the layer's output as attention over the particles (padded particles get zero weight)."""
    from tagformer.models.attention.probe import capture_attention
    from tagformer.models.attention.salt import SALTAttention, effective_particle_weights

    torch.manual_seed(0)
    attn = SALTAttention(dim=8, num_heads=2, num_particles=12, partitions=4).eval()
    x = torch.randn(3, 12, 8)
    mask = torch.arange(12)[None] < torch.tensor([[12], [6], [2]])
    with torch.no_grad(), capture_attention(attn) as maps:
        out = attn(x, mask)
    (amap,) = maps[""]
    assert amap.kind == "partitions" and amap.weights.shape == (3, 2, 12, 4)
    assert amap.key_mask.tolist()[2] == [True, False, True, False]  # 2 real particles fill groups 0 and 2
    assert (amap.weights[2][..., ~amap.key_mask[2]] == 0).all()
    torch.testing.assert_close(amap.query_mask, mask)
    particles = effective_particle_weights(amap.weights, attn, mask)
    assert particles.shape == (3, 2, 12, 12) and (particles[1, ..., 6:] == 0).all()
    with torch.no_grad():
        v = attn.qkv(x).chunk(3, dim=-1)[2].view(3, 12, 2, 4).transpose(1, 2)
        expected = attn.out((particles @ v).transpose(1, 2).reshape(3, 12, 8))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


def test_linformer_probe_and_effective_particle_weights():
    """The recorded (B, H, N, k) weights mapped through the value projection reproduce the layer's output
    as attention over the particles (padded particles get zero weight)."""
    from tagformer.models.attention.linformer import LinformerAttention, effective_particle_weights
    from tagformer.models.attention.probe import capture_attention

    torch.manual_seed(0)
    attn = LinformerAttention(dim=8, num_heads=2, num_particles=12, k=3).eval()
    x = torch.randn(2, 10, 8)
    mask = torch.arange(10)[None] < torch.tensor([[10], [4]])
    with torch.no_grad(), capture_attention(attn) as maps:
        out = attn(x, mask)
    (amap,) = maps["mha"]
    assert amap.kind == "linformer" and amap.weights.shape == (2, 2, 10, 3)
    particles = effective_particle_weights(amap.weights, attn, mask)
    assert particles.shape == (2, 2, 10, 10) and (particles[1, ..., 4:] == 0).all()
    with torch.no_grad():
        v = attn.mha.in_proj(x).chunk(3, dim=-1)[2].view(2, 10, 2, 4).transpose(1, 2)
        expected = attn.mha.project_out((particles @ v).transpose(1, 2).reshape(2, 10, 8))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
