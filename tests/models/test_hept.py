"""HEPT-style LSH attention: exact in one block, permutation invariant with many blocks, regions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from zoo_helpers import permute_real, with_extra_padding

from jetfactory import random_jets
from tagformer.models import create_model
from tagformer.models.attention.lsh import LSHAttention, equal_count_region


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
