"""tagformer explain: attention maps through the probe, effective particle maps and sparsity statistics."""

from __future__ import annotations

import math

import pytest
import torch

from jetfactory import random_jets
from tagformer.eval.explain.accumulate import AttentionAccumulator, sort_map
from tagformer.eval.explain.attention import collect_attention, resolve
from tagformer.eval.explain.data import jet_geometry
from tagformer.eval.explain.sparsity import SparsityTotals, row_sums
from tagformer.models import create_model
from tagformer.models.attention.probe import AttentionMap, AttentionProbe


def tiny_transformer(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=16)
    model.input_norm.set_stats([3.0, 0.0, 0.0], [1.5, 0.2, 0.2])
    for p in model.parameters():  # a trained-looking model: weights far from their tiny initial values
        p.data.add_(0.3 * torch.randn_like(p))
    return model.eval()


def new_padding(batch, seed: int = 7):
    g = torch.Generator().manual_seed(seed)
    pad = ~batch.mask[..., None]
    return batch.replace(features=torch.where(pad, torch.randn(batch.features.shape, generator=g) * 80, batch.features),
                         p4=torch.where(pad, torch.randn(batch.p4.shape, generator=g) * 80, batch.p4))


def test_probe_weights_equal_a_direct_computation():
    model = tiny_transformer()
    batch = random_jets(5, 12, 3, 5, seed=1, min_real=2)
    _, modules = collect_attention(model, batch)
    assert list(modules) == [f"encoder.blocks.{i}.attn" for i in range(3)]
    # first block by hand: normalise, embed, pre-norm, project, softmax(q k^T / sqrt(d)) over real keys
    enc, block = model.encoder, model.encoder.blocks[0]
    with torch.no_grad():
        x = model.input_norm(batch.features, batch.mask)
        x = enc.embed(x.masked_fill(~batch.mask[..., None], 0.0))
        q, k, _ = block.attn.in_proj(block.norm1(x)).chunk(3, dim=-1)
        b, n, d = q.shape
        heads = block.attn.num_heads
        qh = q.view(b, n, heads, d // heads).transpose(1, 2)
        kh = k.view(b, n, heads, d // heads).transpose(1, 2)
        scores = qh @ kh.transpose(-1, -2) / math.sqrt(d // heads)
        direct = scores.masked_fill(~batch.mask[:, None, None, :], -torch.inf).softmax(-1)
    got = modules["encoder.blocks.0.attn"]
    torch.testing.assert_close(got.calls[0].weights, direct, atol=1e-5, rtol=1e-5)
    real = batch.mask[:, None, :, None] & batch.mask[:, None, None, :]
    torch.testing.assert_close(got.particle, direct * real, atol=1e-5, rtol=1e-5)


def test_effective_maps_sum_to_one_over_real_particles_and_ignore_padding():
    model = tiny_transformer()
    batch = random_jets(6, 16, 3, 5, seed=2, min_real=1)
    _, modules = collect_attention(model, batch)
    _, other = collect_attention(model, new_padding(batch))
    mask = batch.mask
    for name, m in modules.items():
        assert m.stochastic, name
        sums = m.particle.sum(-1)  # (B, H, N)
        rows = mask[:, None, :].expand_as(sums)
        torch.testing.assert_close(sums[rows], torch.ones(int(rows.sum())), atol=1e-5, rtol=0)
        assert (sums[~rows] == 0).all(), "padded query rows must be zero"
        assert (m.particle * (~mask)[:, None, None, :]).abs().max() == 0, "padded keys must get no weight"
        torch.testing.assert_close(m.particle, other[name].particle, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(m.received.sum(-1), torch.ones(m.received.shape[:2]), atol=1e-5, rtol=0)
        torch.testing.assert_close(m.uniform.sum(-1)[rows], torch.ones(int(rows.sum())), atol=1e-6, rtol=0)


def test_grouped_maps_scatter_to_block_diagonal_particle_maps():
    """A patch-like map: 2 jets x 2 groups of 2 members each; jet 1's last slot is padding."""
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    index = torch.tensor([[0, 1], [2, 3], [0, 1], [2, 3]])
    weights = torch.tensor([[0.7, 0.3], [0.4, 0.6]]).expand(4, 1, 2, 2).clone()
    weights[3, 0] = torch.tensor([[1.0, 0.0], [0.5, 0.5]])  # slot 3 of jet 1 is padding
    amap = AttentionMap(weights=weights, kind="patch", query_index=index, key_index=index)
    m = resolve(torch.nn.Identity(), "attn", [amap], mask)
    assert m.stochastic
    expected = torch.tensor([[0.7, 0.3, 0, 0], [0.4, 0.6, 0, 0], [0, 0, 0.7, 0.3], [0, 0, 0.4, 0.6]])
    torch.testing.assert_close(m.particle[0, 0], expected)
    torch.testing.assert_close(m.particle[1, 0, 2], torch.tensor([0.0, 0.0, 1.0, 0.0]))
    assert m.particle[1, 0, 3].abs().sum() == 0
    torch.testing.assert_close(m.uniform[0, 0, 0], torch.tensor([0.5, 0.5, 0.0, 0.0]))
    torch.testing.assert_close(m.uniform[1, 0, 2], torch.tensor([0.0, 0.0, 1.0, 0.0]))


def test_class_token_maps_give_the_attention_each_particle_receives():
    mask = torch.tensor([[True, True, False]])
    weights = torch.tensor([[[[0.1, 0.6, 0.3, 0.0]]]])  # keys: [cls, p0, p1, p2 (padding)]
    m = resolve(torch.nn.Identity(), "cls", [AttentionMap(weights=weights, kind="class_token")], mask)
    assert m.particle is None
    torch.testing.assert_close(m.received, torch.tensor([[[0.6, 0.3, 0.0]]]))


def test_row_statistics_of_one_hot_and_uniform_rows():
    weights = torch.tensor([[[[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]]]])
    sums = row_sums(weights, torch.ones(1, 2, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool))
    assert sums["rows"].item() == 2
    assert sums["entropy"].item() == pytest.approx(math.log(4))
    assert sums["entropy_uniform"].item() == pytest.approx(2 * math.log(4))
    assert sums["max_weight"].item() == pytest.approx(1.25)
    assert sums["keys_90"].item() == pytest.approx(1 + 4)
    assert sums["keys_90_uniform"].item() == pytest.approx(8)
    assert sums["near_binary"].item() == 1
    assert sums["norm_entropy"].item() == pytest.approx(1.0)


def test_padded_keys_and_queries_do_not_enter_the_statistics():
    weights = torch.tensor([[[[0.5, 0.5, 0.0], [9.0, 9.0, 9.0]]]])
    sums = row_sums(weights, torch.tensor([[True, False]]), torch.tensor([[True, True, False]]))
    assert sums["rows"].item() == 1
    assert sums["entropy"].item() == pytest.approx(math.log(2))
    assert sums["keys_90"].item() == 2 and sums["keys_90_uniform"].item() == 2


def test_same_subjet_share_against_uniform():
    particle = torch.tensor([[[[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]]])
    uniform = torch.full((1, 1, 3, 3), 1 / 3)
    totals = SparsityTotals()
    mask = torch.ones(1, 3, dtype=torch.bool)
    totals.add("m", "particles", particle, mask, mask)
    totals.add_subjets("m", particle, uniform, torch.tensor([[0, 0, 1]]), mask)
    entry = totals.result()["m"]
    assert entry["same_subjet"][0] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert entry["same_subjet_uniform"][0] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)


def test_accumulator_class_means_are_pt_ordered_and_keep_examples():
    model = tiny_transformer()
    batch = random_jets(8, 10, 3, 2, seed=3, min_real=2)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    shuffled = batch.replace(features=batch.features[:, perm], p4=batch.p4[:, perm], mask=batch.mask[:, perm])
    means = []
    for b in (batch, shuffled):
        geometry = jet_geometry(b)
        acc = AttentionAccumulator(len(b), 10, 2, examples=[0])
        _, modules = collect_attention(model, b)
        acc.add(0, modules, b.mask, b.labels, torch.from_numpy(geometry.order), None)
        summary = acc.summary()
        means.append(summary.particle_means["encoder.blocks.2.attn"])
        assert summary.scores.shape == (8, 10)
        assert set(summary.examples["encoder.blocks.2.attn"]) == {0}
    # the transformer is permutation equivariant: maps ordered by pT do not depend on the slot order
    torch.testing.assert_close(torch.from_numpy(means[0]), torch.from_numpy(means[1]), atol=1e-5, rtol=1e-5,
                               equal_nan=True)


def test_sort_map_permutes_rows_and_columns():
    m = torch.arange(9.0).view(1, 1, 3, 3)
    out = sort_map(m, torch.tensor([[2, 0, 1]]))
    torch.testing.assert_close(out[0, 0], torch.tensor([[8.0, 6, 7], [2, 0, 1], [5, 3, 4]]))


def test_class_token_pooling_gives_received_weights_and_their_class_means():
    torch.manual_seed(0)
    model = create_model("transformer_tiny", num_classes=2, in_features=3, num_particles=12, pooling="cls").eval()
    batch = random_jets(6, 12, 3, 2, seed=6, min_real=2)
    _, modules = collect_attention(model, batch)
    cls = modules["encoder.cls_block.attn"]
    assert cls.kind == "class_token" and cls.particle is None
    on_cls = cls.calls[0].weights[:, :, 0, 0]
    torch.testing.assert_close(cls.received.sum(-1) + on_cls, torch.ones_like(on_cls), atol=1e-5, rtol=0)
    assert (cls.received[~batch.mask[:, None, :].expand_as(cls.received)] == 0).all()
    geometry = jet_geometry(batch)
    acc = AttentionAccumulator(6, 12, 2, examples=[0])
    acc.add(0, modules, batch.mask, batch.labels, torch.from_numpy(geometry.order), None)
    summary = acc.summary()
    assert summary.received_means["encoder.cls_block.attn"].shape == (2, cls.num_heads, 12)
    assert "encoder.cls_block.attn" not in summary.own_means


class CompressedAttention(AttentionProbe):
    """Queries (particle slots) over 2 fixed key mixtures; the effective map comes from the function below."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Parameter(torch.tensor([[1.0, -0.5], [0.0, 1.0], [0.5, 0.5]]))  # (N, k)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = torch.tensor([0.25, 0.75]).expand(x.shape[0], 1, x.shape[1], 2)
        if self.probing:
            self.emit(weights, "linformer")
        return x


def effective_particle_weights(weights: torch.Tensor, attention: CompressedAttention,
                               mask: torch.Tensor) -> torch.Tensor:
    """What explain looks up in the attention class's Python module: (B, H, N, N) = w F^T on real keys."""
    return torch.einsum("bhqk,nk->bhqn", weights, attention.mix[: weights.shape[2]]) * mask[:, None, None, :]


class CompressedModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = CompressedAttention()

    def forward(self, batch):
        return self.attn(batch.features, batch.mask).sum(1)


def test_compressed_keys_use_the_modules_effective_particle_weights():
    batch = random_jets(2, 3, 3, 2, seed=0, min_real=3)
    batch = batch.replace(mask=torch.tensor([[True, True, True], [True, True, False]]))
    _, modules = collect_attention(CompressedModel(), batch)
    m = modules["attn"]
    assert m.kind == "linformer" and m.particle is not None and not m.stochastic
    assert m.received is None and m.uniform is None
    expected = torch.tensor([0.25 * 1.0 - 0.75 * 0.5, 0.75, 0.5])  # row = w @ F^T, same for every query
    torch.testing.assert_close(m.particle[0, 0, 0], expected)
    assert (m.particle[1, 0, :, 2] == 0).all() and (m.particle[1, 0, 2] == 0).all()
    assert m.query_masks[0].tolist() == batch.mask.tolist(), "linformer queries are the particle slots"
