"""Registry-wide encoder/tagger contract: tokens, pooling, heads, legacy weights, attention probes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from zoo_helpers import with_new_padding

from jetfactory import random_jets
from tagformer.data.batch import JetBatch
from tagformer.models import create_model, get_entry, list_models
from tagformer.models.attention.probe import AttentionProbe, capture_attention
from tagformer.models.heads import ClassificationHead, RegressionHead
from tagformer.models.legacy import is_legacy_state_dict, upgrade_state_dict
from tagformer.models.registry import saved_arguments
from tagformer.models.tagger import Tagger

FEATURES, CLASSES, PARTICLES, EXTRA = 5, 5, 16, 8
MODELS = list_models()
LEGACY = Path(__file__).parent / "legacy"


def build(name: str, seed: int = 0, **overrides) -> Tagger:
    entry = get_entry(name)
    for pkg in entry.capabilities.requires:
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{name} needs {pkg}")
    torch.manual_seed(seed)
    model = create_model(entry.smallest, num_classes=CLASSES, in_features=FEATURES,
                         num_particles=PARTICLES + EXTRA, **overrides)
    return model.eval()


def jets(seed: int = 0) -> JetBatch:
    return random_jets(6, PARTICLES, FEATURES, CLASSES, seed=seed, min_real=1)


@pytest.mark.parametrize("name", MODELS)
def test_encode_shape_zero_padding_and_padding_invariance(name):
    model = build(name)
    batch = jets()
    with torch.no_grad():
        tokens = model.forward_features(batch)
        other = model.forward_features(with_new_padding(batch, seed=5))
    assert tokens.shape == (6, PARTICLES, model.encoder.embed_dim)
    assert torch.isfinite(tokens).all()
    assert (tokens[~batch.mask] == 0).all(), "padded token slots must be exactly zero"
    real = batch.mask
    scale = max(1.0, float(tokens.abs().max()))
    assert float((tokens[real] - other[real]).abs().max()) <= 1e-4 * scale, "real tokens depend on padding"


@pytest.mark.parametrize("name", MODELS)
def test_pool_shape_and_forward_is_head_of_pool(name):
    model = build(name)
    batch = jets()
    with torch.no_grad():
        tokens = model.forward_features(batch)
        pooled = model.encoder.pool(tokens, batch.mask)
        logits = model(batch)
    assert pooled.shape == (6, model.encoder.jet_dim)
    torch.testing.assert_close(logits, model.heads["classification"](pooled))


@pytest.mark.parametrize("name", MODELS)
def test_swapping_heads_leaves_encoder_outputs_unchanged(name):
    model = build(name)
    batch = jets()
    with torch.no_grad():
        before = model.embed(batch)
        tokens = model.forward_features(batch)
    other = model.replace_heads({"mass": RegressionHead(model.encoder.jet_dim, 1, hidden=8),
                                 "classification": ClassificationHead(model.encoder.jet_dim, 3)})
    with torch.no_grad():
        outs = other.forward_heads(batch)
        torch.testing.assert_close(other.embed(batch), before)
        torch.testing.assert_close(other.forward_features(batch), tokens)
    assert outs["mass"].shape == (6, 1) and outs["classification"].shape == (6, 3)
    assert other(batch).shape == (6, 1), "the first head is the primary one"


@pytest.mark.parametrize("name", MODELS)
def test_input_norm_is_inside_the_model(name):
    model = build(name)
    batch = jets()
    mean, std = torch.linspace(-1, 1, FEATURES), torch.linspace(0.5, 2, FEATURES)
    raw = batch.replace(features=batch.features * std + mean)
    with torch.no_grad():
        expected = model(batch)
        model.input_norm.set_stats(mean, std)
        got = model(raw)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    state = model.state_dict()
    torch.testing.assert_close(state["input_norm.mean"], mean)


@pytest.mark.parametrize("name", MODELS)
def test_logits_equal_pre_split_weights(name):
    """Weights saved by the closed classifiers before the encoder/heads split load through the documented
    key mapping and give the same logits (fixtures: tests/fixtures/README.md)."""
    blob = torch.load(LEGACY / f"{name}.pt", weights_only=True)
    assert is_legacy_state_dict(blob["state_dict"])
    model = build(name, **saved_arguments(get_entry(name).smallest, {}))  # what the preset built then
    assert model.encoder.__class__ is get_entry(name).cls
    model.load_state_dict(upgrade_state_dict(blob["state_dict"], model))
    batch = JetBatch(features=blob["features"], p4=blob["p4"], mask=blob["mask"])
    with torch.no_grad():
        got = model(batch)
    torch.testing.assert_close(got, blob["logits"], atol=1e-5, rtol=1e-5)


def _probes(model: torch.nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, AttentionProbe)]


@pytest.mark.parametrize("name", MODELS)
def test_attention_probe_weights_sum_to_one_over_real_keys(name):
    model = build(name)
    batch = jets()
    with torch.no_grad():
        plain = model(batch)
        with capture_attention(model) as maps:
            probed = model(batch)
        after = model(batch)
    torch.testing.assert_close(probed, plain)
    torch.testing.assert_close(after, plain)
    probes = _probes(model)
    if not probes:  # a model without attention records nothing (and is told apart by explain)
        assert maps == {}
        return
    assert set(maps) == set(probes)
    for module_name, calls in maps.items():
        assert calls, f"{module_name} recorded nothing"
        for amap in calls:
            w = amap.weights
            assert w.ndim == 4, f"{module_name}: weights must be (B, H, Nq, Nk)"
            assert torch.isfinite(w).all() and (w >= 0).all()
            all_keys = torch.ones(w.shape[0], w.shape[-1], dtype=torch.bool)
            all_queries = torch.ones(w.shape[0], w.shape[2], dtype=torch.bool)
            keys = all_keys if amap.key_mask is None else amap.key_mask
            queries = all_queries if amap.query_mask is None else amap.query_mask
            assert keys.shape == (w.shape[0], w.shape[-1]) and queries.shape == (w.shape[0], w.shape[2])
            sums = (w * keys[:, None, None, :]).sum(-1)
            ok = sums[queries[:, None, :].expand_as(sums)]
            torch.testing.assert_close(ok, torch.ones_like(ok), atol=1e-4, rtol=0,
                                       msg=f"{module_name} ({amap.kind})")
    for _, module in model.named_modules():
        if isinstance(module, AttentionProbe):
            assert module._probe_sink is None, "probe left on after the context"


@pytest.mark.parametrize("name", MODELS)
def test_registered_classes_are_encoders_without_num_classes(name):
    import inspect

    from tagformer.models.encoder import Encoder

    cls = get_entry(name).cls
    assert issubclass(cls, Encoder)
    assert "num_classes" not in inspect.signature(cls.__init__).parameters
