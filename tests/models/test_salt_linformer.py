"""SAL-T partitioning, Linformer limits, and the attention maps both record."""

from __future__ import annotations

import pytest
import torch

from jetfactory import random_jets
from tagformer.errors import ModelError
from tagformer.models import create_model
from tagformer.models.attention.salt import partition_weights


def _groups_and_slots(mask: torch.Tensor, rule: str, parts: int = 4, chunk: int = 3) -> tuple[list, list, list]:
    """(group, slot) of every real particle of the one jet in ``mask``, read off partition_weights whose
    weight of group g, slot s is 10 g + s + 1, and the groups holding a real particle."""
    codes = (10 * torch.arange(parts)[:, None] + torch.arange(chunk) + 1).float()[None]  # (1, P, C)
    w, present = partition_weights(mask, codes, rule)
    assert ((w[0, 0] != 0).sum(-1) == mask[0].long()).all(), "one group per real particle, none for padding"
    code = w[0, 0].sum(-1)[mask[0]].long() - 1
    return (code // 10).tolist(), (code % 10).tolist(), present[0].tolist()


# Hand-computed: P = 4 groups, C = ceil(10 / 4) = 3 slots per group (weights sized for 10 particles).
# position (reference): group floor(r / 3), slot r mod 3;
# rank: group floor(r * 4 / R), slot r - ceil(group * R / 4) over the R real particles.
PARTITION_CASES = [
    # full jet, 10 real particles
    ("position", 10, 0, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3], [0, 1, 2, 0, 1, 2, 0, 1, 2, 0], [True] * 4),
    ("rank", 10, 0, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3], [0, 1, 2, 0, 1, 0, 1, 2, 0, 1], [True] * 4),
    # padded jet, 7 real particles + 3 padded slots: the position rule leaves group 3 empty
    ("position", 7, 3, [0, 0, 0, 1, 1, 1, 2], [0, 1, 2, 0, 1, 2, 0], [True, True, True, False]),
    ("rank", 7, 3, [0, 0, 1, 1, 2, 2, 3], [0, 1, 0, 1, 0, 1, 0], [True] * 4),
    # padded jet, 2 real particles + 8 padded slots
    ("position", 2, 8, [0, 0], [0, 1], [True, False, False, False]),
    ("rank", 2, 8, [0, 2], [0, 0], [True, False, True, False]),
    # 13 real particles, more than the 4 x 3 slots: the surplus reuses the last group's last slot
    ("position", 13, 0, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3], [0, 1, 2] * 3 + [0, 1, 2, 2], [True] * 4),
]


@pytest.mark.parametrize(("rule", "real", "padded", "groups", "slots", "present"), PARTITION_CASES)
def test_partition_rules_hand_computed(rule, real, padded, groups, slots, present):
    mask = torch.tensor([[True] * real + [False] * padded])
    assert _groups_and_slots(mask, rule) == (groups, slots, present)
    more = torch.cat([mask, torch.zeros(1, 5, dtype=torch.bool)], dim=1)  # extra padded slots change nothing
    assert _groups_and_slots(more, rule) == (groups, slots, present)


def test_partition_rules_agree_when_chunks_divide_the_jet():
    mask = torch.ones(1, 12, dtype=torch.bool)  # 12 = 4 groups x 3 slots: both rules cut the same chunks
    assert _groups_and_slots(mask, "position") == _groups_and_slots(mask, "rank")


def test_unknown_partition_rule_is_an_error():
    with pytest.raises(ModelError, match="partition rule"):
        create_model("salt", num_classes=5, in_features=3, num_particles=16, partition_rule="kmeans")


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


@pytest.mark.parametrize(("rule", "groups_of_two"), [("rank", [True, False, True, False]),
                                                     ("position", [True, False, False, False])])
def test_salt_probe_records_the_applied_partition_weights(rule, groups_of_two):
    """The recorded (B, H, N, P) weights are the ones applied: mapped through the value weights of the groups
    they reproduce the layer's output as attention over the particles (padded particles get zero weight)."""
    from tagformer.models.attention.probe import capture_attention
    from tagformer.models.attention.salt import SALTAttention, effective_particle_weights

    torch.manual_seed(0)
    attn = SALTAttention(dim=8, num_heads=2, num_particles=12, partitions=4, partition_rule=rule).eval()
    x = torch.randn(3, 12, 8)
    mask = torch.arange(12)[None] < torch.tensor([[12], [6], [2]])
    with torch.no_grad(), capture_attention(attn) as maps:
        out = attn(x, mask)
    (amap,) = maps[""]
    assert amap.kind == "partitions" and amap.weights.shape == (3, 2, 12, 4)
    assert amap.key_mask.tolist()[2] == groups_of_two  # 2 real particles: groups 0 and 2 by rank, 0 by position
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


def test_salt_ref_has_the_reference_choices_and_parameter_count():
    """salt_ref: position partitions, tanh(alpha x + beta) norms, Glorot init; 2,464 parameters at N = 50 with
    3 inputs and 5 classes, the public TF code's count; ``salt`` builds the same, and the earlier choices
    (rank partitions, per-channel DyT, torch init; saved runs of ``salt`` before the ablation) have 62 more."""
    from tagformer.bench.flops import count_params
    from tagformer.models.layers.norm import DyT, ScalarDyT

    ref = create_model("salt_ref", num_classes=5, in_features=3, num_particles=50)
    old = create_model("salt", num_classes=5, in_features=3, num_particles=50, partition_rule="rank", norm="dyt",
                       init="torch")
    new = create_model("salt", num_classes=5, in_features=3, num_particles=50)
    assert count_params(ref) == count_params(new) == 2464 and count_params(old) == 2464 + 62
    block = ref.encoder.blocks[0]
    assert block.attn.partition_rule == "position" and isinstance(block.norm1, ScalarDyT)
    assert old.encoder.blocks[0].attn.partition_rule == "rank" and isinstance(old.encoder.blocks[0].norm1, DyT)
    assert block.norm1.alpha.item() == 1.0 and block.norm1.beta.item() == 0.0


def test_glorot_init_bounds_and_zero_biases():
    """init="glorot": every dense/convolution bias is zero, every weight within its Glorot-uniform bound
    (Keras fans; partition weights (H, P, C) with fan_in H * P, fan_out H * C) and spread over it."""
    import math

    torch.manual_seed(0)
    enc = create_model("salt_ref", num_classes=5, in_features=3, num_particles=30).encoder
    attn = enc.blocks[0].attn
    heads, parts, chunk = attn.key_weights.shape

    def check(w: torch.Tensor, fan_in: int, fan_out: int) -> None:
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        assert float(w.abs().max()) <= limit and float(w.abs().max()) > 0.5 * limit

    for name, module in enc.named_modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)) and module.bias is not None:
            assert (module.bias == 0).all(), name
    for linear in (enc.embed, attn.out, enc.blocks[0].ffn.net[0], enc.head.net[0]):
        check(linear.weight, linear.in_features, linear.out_features)
    for block in attn.qkv.weight.split(16, dim=0):  # q, k, v: three 16 x 16 Keras kernels
        check(block, 16, 16)
    for conv in attn.convs:
        h, w = conv.kernel_size
        check(conv.weight, h * w, h * w)
    for weights in (attn.key_weights, attn.value_weights):
        check(weights, heads * parts, heads * chunk)
    torch_init = create_model("salt", num_classes=5, in_features=3, num_particles=30, init="torch").encoder
    assert (torch_init.embed.bias != 0).all()  # init="torch" keeps torch's defaults


def test_layer_norm_epsilon_option():
    enc = create_model("salt_ref", num_classes=5, in_features=3, num_particles=16, norm="layer", norm_eps=1e-6).encoder
    assert enc.blocks[0].norm1.eps == 1e-6 and enc.blocks[0].norm2.eps == 1e-6
    with pytest.raises(ModelError, match="unknown init"):
        create_model("salt", num_classes=5, in_features=3, num_particles=16, init="he")


def test_salt_ref_ignores_padding_and_records_partition_maps():
    """The registry-wide contract covers the smallest preset (salt); salt_ref's position rule gets the same
    checks here: padded tokens zero, real tokens independent of padding content and of extra padded slots,
    partition maps that sum to one over the groups holding a real particle."""
    from zoo_helpers import with_extra_padding, with_new_padding

    from tagformer.models.attention.probe import capture_attention

    torch.manual_seed(0)
    model = create_model("salt_ref", num_classes=5, in_features=5, num_particles=24).eval()
    batch = random_jets(6, 16, 5, 5, seed=0, min_real=1)
    with torch.no_grad():
        tokens = model.forward_features(batch)
        other = model.forward_features(with_new_padding(batch, seed=5))
        longer = model.forward_features(with_extra_padding(batch, extra=8, seed=6))
        with capture_attention(model) as maps:
            model(batch)
    real = batch.mask
    assert (tokens[~real] == 0).all()
    torch.testing.assert_close(other[real], tokens[real])
    torch.testing.assert_close(longer[:, :16][real], tokens[real])
    (amap,) = maps["encoder.blocks.0.attn"]
    sums = (amap.weights * amap.key_mask[:, None, None, :]).sum(-1)[real[:, None, :].expand(-1, 4, -1)]
    torch.testing.assert_close(sums, torch.ones_like(sums))
