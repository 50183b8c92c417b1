"""HEPT-style LSH attention: exact in one block, permutation invariant with many blocks, regions, attention maps,
tokens in batch order."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from zoo_helpers import permute_real, with_extra_padding

from jetfactory import random_jets
from tagformer.models import create_model
from tagformer.models.attention.lsh import LSHAttention, equal_count_region, lsh_particle_weights
from tagformer.models.attention.probe import capture_attention


def _rbf_reference(attn: LSHAttention, x, coords, mask):
    b, n, d = x.shape
    h, dh = attn.num_heads, attn.head_dim
    q, k, v = attn.qkv(x).view(b, n, 3, h, dh).permute(2, 0, 3, 1, 4)
    pos = coords.unsqueeze(1) * F.softplus(attn.coord_scale).view(1, h, 1, 1) * dh**0.25
    q, k = torch.cat([q, pos], -1), torch.cat([k, pos], -1)
    dist = torch.cdist(q, k).pow(2)  # RBF kernel exp(-|q - k|^2 / 2), scaled like the attention
    logits = (-0.5 * dist * q.shape[-1] ** -0.5).masked_fill(~mask[:, None, None, :], float("-inf"))
    y = logits.softmax(-1) @ v
    return attn.out(y.transpose(1, 2).reshape(b, n, d))


def test_one_block_is_exact_rbf_attention():
    torch.manual_seed(0)
    attn = LSHAttention(8, 2, block_size=32, num_tables=2, regions=(1, 1)).eval()
    x = torch.randn(3, 20, 8)
    coords = torch.randn(3, 20, 2) * 0.3
    mask = torch.arange(20)[None] < torch.tensor([[20], [7], [1]])
    got = attn(x, coords, mask)
    ref = _rbf_reference(attn, x, coords, mask)
    assert torch.allclose(got * mask[..., None], ref * mask[..., None], atol=1e-5)


def test_many_blocks_permutation_and_padding_invariant():
    torch.manual_seed(0)
    model = create_model("hept", num_classes=3, in_features=4, block_size=4, num_tables=3).eval()
    batch = random_jets(5, 40, 4, 3, seed=1)
    with torch.no_grad():
        ref = model(batch)
        assert torch.allclose(ref, model(permute_real(batch, seed=2)), atol=1e-5)
        assert torch.allclose(ref, model(with_extra_padding(batch, 9, seed=3)), atol=1e-5)


def test_blocks_make_attention_local():
    """With small blocks the output differs from one-block (full) attention: blocks really cut."""
    torch.manual_seed(0)
    small = LSHAttention(8, 2, block_size=4, num_tables=1).eval()
    full = LSHAttention(8, 2, block_size=64, num_tables=1).eval()
    full.load_state_dict(small.state_dict())
    x, coords = torch.randn(2, 32, 8), torch.randn(2, 32, 2) * 0.3
    mask = torch.ones(2, 32, dtype=torch.bool)
    assert not torch.allclose(small(x, coords, mask), full(x, coords, mask), atol=1e-4)


def test_equal_count_regions():
    values = torch.randn(2, 12)
    mask = torch.arange(12)[None] < torch.tensor([[12], [8]])
    region = equal_count_region(values, mask, 4)
    assert torch.bincount(region[0].long(), minlength=4).tolist() == [3, 3, 3, 3]
    assert torch.bincount(region[1][:8].long(), minlength=4).tolist() == [2, 2, 2, 2]


def test_projections_are_seeded_buffers():
    a = LSHAttention(8, 2, seed=5)
    b = LSHAttention(8, 2, seed=5)
    assert "projections" in dict(a.named_buffers())
    assert torch.equal(a.projections, b.projections)
    assert not torch.equal(a.projections, LSHAttention(8, 2, seed=6).projections)


def test_lsh_block_maps_reproduce_the_layer_output():
    """The tables' ``lsh_blocks`` maps, scattered onto the particles and averaged, are the attention the layer
    applies: its output is their product with the values (real rows, blocks much smaller than the jets)."""
    torch.manual_seed(0)
    attn = LSHAttention(8, 2, block_size=4, num_tables=3).eval()
    x, coords = torch.randn(3, 18, 8), torch.randn(3, 18, 2) * 0.3
    mask = torch.arange(18)[None] < torch.tensor([[18], [11], [1]])
    with torch.no_grad(), capture_attention(attn) as maps:
        out = attn(x, coords, mask)
    calls = maps[""]
    assert len(calls) == 3 and all(m.kind == "lsh_blocks" for m in calls)
    assert calls[0].weights.shape == (3 * 2 * 5, 1, 4, 4)  # 18 slots -> 5 blocks of 4, per jet and head
    index = calls[0].query_index.view(3, 2, 20)
    for b, n in enumerate((18, 11, 1)):  # every real particle exactly once per head, nothing else
        for h in range(2):
            assert sorted(index[b, h][index[b, h] >= 0].tolist()) == list(range(n))
    particles = torch.stack([lsh_particle_weights(m, 3, 2, 18) for m in calls]).mean(0)
    torch.testing.assert_close(particles.sum(-1)[mask[:, None].expand(-1, 2, -1)], torch.ones(2 * 30))
    assert (particles[1, ..., 11:] == 0).all()
    with torch.no_grad():
        v = attn.qkv(x).view(3, 18, 3, 2, 4)[:, :, 2].transpose(1, 2)
        expected = attn.out((particles @ v).transpose(1, 2).reshape(3, 18, 8))
    torch.testing.assert_close(out[mask], expected[mask], rtol=1e-5, atol=1e-5)


def test_tokens_keep_batch_order_and_trimmed_slots_are_zero():
    """Permuting the real particles permutes the tokens the same way; trailing padding comes back as zeros."""
    torch.manual_seed(0)
    model = create_model("hept", num_classes=3, in_features=4, block_size=4).eval()
    batch = with_extra_padding(random_jets(4, 20, 4, 3, seed=1, min_real=2), 5, seed=2)
    moved = permute_real(batch, seed=3)
    with torch.no_grad():
        tokens, tokens_moved = model.forward_features(batch), model.forward_features(moved)
    assert tokens.shape == (4, 25, model.encoder.embed_dim)
    assert (tokens[:, 20:] == 0).all() and (tokens[~batch.mask] == 0).all()
    # permute_real's order, recovered by matching the moved features to the original ones
    order = (moved.features[:, :, None, :] - batch.features[:, None, :, :]).abs().sum(-1).argmin(-1)
    expected = tokens.gather(1, order[..., None].expand_as(tokens))
    torch.testing.assert_close(tokens_moved[moved.mask], expected[moved.mask], rtol=1e-4, atol=1e-4)
