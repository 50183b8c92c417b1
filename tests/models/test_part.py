"""ParT: paper-size parameter count, eager paths equal the export path, weaver-core parity, probes."""

from __future__ import annotations

import pytest
import torch

from jetfactory import random_jets
from tagformer.models import create_model
from tagformer.models.attention.probe import capture_attention
from tagformer.models.part_blocks import PairEmbed


def test_paper_preset_parameter_count():
    model = create_model("part", num_classes=10, in_features=16)
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 2.14e6) / 2.14e6 < 0.01, n


def test_eager_paths_match_dense_export_path():
    torch.manual_seed(0)
    encoder = create_model("part_tiny", num_classes=5, in_features=4).encoder.eval()
    batch = random_jets(70, 20, 4, 5, seed=3, min_real=1)
    full = random_jets(5, 20, 4, 5, seed=4, min_real=20)  # no padding: the eager path skips packing
    with torch.no_grad():
        dense = encoder.encode_dense(batch)
        for got in (encoder.encode_eager(batch), encoder.encode_packed(batch)):
            assert got.shape == dense.shape
            torch.testing.assert_close(got, dense, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(encoder.encode_eager(full), encoder.encode_dense(full), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(encoder(batch), encoder.pool(dense, batch.mask), atol=1e-5, rtol=1e-5)


def test_pair_embedding_for_inference_folds_batchnorms():
    torch.manual_seed(1)
    embed = PairEmbed(4, (8, 8), 3)
    embed.train()
    embed(torch.randn(500, 4) * 3 + 1)  # give the BatchNorms non-trivial running statistics
    embed.eval()
    x = torch.randn(50, 4)
    with torch.no_grad():
        h = embed.input_bn(x)
        for k, (lin, bn) in enumerate(zip(embed.linears, embed.norms)):
            h = bn(lin(h))
            h = torch.nn.functional.gelu(h) if k < len(embed.linears) - 1 else h
        torch.testing.assert_close(embed(x), h)
        folded = embed.for_inference()
        assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in folded.modules())
        torch.testing.assert_close(folded(x), h, atol=1e-5, rtol=1e-5)
        assert folded(torch.randn(0, 4)).shape == (0, 3)  # a batch may hold no real pair


def test_probes_cover_particle_and_class_attention_at_full_length():
    torch.manual_seed(3)
    model = create_model("part_tiny", num_classes=3, in_features=4).eval()
    batch = random_jets(4, 12, 4, 3, seed=5, min_real=2)
    batch = batch.replace(mask=batch.mask & (torch.arange(12) < 9))  # slots 9.. padding in every jet
    with torch.no_grad(), capture_attention(model) as maps:
        model(batch)
    kinds = {m.kind: m for calls in maps.values() for m in calls}
    assert kinds["particles"].weights.shape == (4, 4, 12, 12)
    assert torch.equal(kinds["particles"].key_mask, batch.mask)
    assert kinds["class_token"].weights.shape == (4, 4, 1, 13)
    assert torch.equal(kinds["class_token"].key_mask[:, 1:], batch.mask)
    padded = kinds["particles"].weights.masked_select(~batch.mask[:, None, None, :])
    assert (padded == 0).all()


def test_matches_weaver_core_logits():
    pytest.importorskip("weaver")
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    from tagformer.models.inference import prepare_for_inference
    from tagformer.models.weaver_compat import weaver_to_tagformer

    torch.manual_seed(2)
    ref = ParticleTransformer(input_dim=7, num_classes=4, embed_dims=(16, 32, 16), pair_embed_dims=(8, 8, 8),
                              num_heads=4, num_layers=2, num_cls_layers=1).eval()
    ours = create_model("part", num_classes=4, in_features=7, embed_dims=(16, 32, 16),
                        pair_embed_dims=(8, 8, 8), num_heads=4, num_layers=2, num_cls_layers=1).eval()
    ours.load_state_dict(weaver_to_tagformer(ref.state_dict()))
    batch = random_jets(6, 12, 7, 4, seed=4, min_real=2)
    keep = batch.mask.unsqueeze(-1)
    x = (batch.features * keep).transpose(1, 2)
    v = (batch.p4 * keep).transpose(1, 2)
    with torch.no_grad():
        want = ref(x, v, batch.mask[:, None].float())
        torch.testing.assert_close(ours(batch), want, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(prepare_for_inference(ours)(batch), want, atol=1e-4, rtol=1e-4)
