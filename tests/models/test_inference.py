"""prepare_for_inference: the same function with fused kernels and folded norms; training graphs stay plain."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from jetfactory import random_jets
from tagformer.bench.flops import flops_per_jet
from tagformer.models import create_model, get_entry, list_models
from tagformer.models.inference import is_inference_module, prepare_for_inference

FEATURES, CLASSES, PARTICLES = 5, 4, 20
MODELS = list_models()
#: models whose inference copy must hold fused modules (the others are returned unchanged, in eval mode)
FUSED = {"part", "lorentz_part", "phat"}


def build(name: str) -> torch.nn.Module:
    entry = get_entry(name)
    for pkg in entry.capabilities.requires:
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{name} needs {pkg}")
    torch.manual_seed(0)
    model = create_model(entry.smallest, num_classes=CLASSES, in_features=FEATURES, num_particles=PARTICLES)
    with torch.no_grad():
        for p in model.parameters():  # non-trivial head scales, residual scales, norms
            p.add_(0.1 * torch.randn_like(p))
    model.train()
    for seed in range(3):  # non-trivial BatchNorm running statistics
        with torch.no_grad():
            model(random_jets(16, PARTICLES, FEATURES, CLASSES, seed=100 + seed, min_real=1))
    return model.eval()


@pytest.mark.parametrize("name", MODELS)
def test_inference_copy_gives_the_same_logits(name):
    model = build(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = prepare_for_inference(model)
    assert not is_inference_module(model), "the training graph must not contain fused modules"
    assert is_inference_module(fast) or name not in FUSED
    assert not fast.training and not any(p.requires_grad for p in fast.parameters())
    for seed, min_real in ((1, 1), (2, PARTICLES)):  # padded jets (packed paths) and full jets (dense paths)
        batch = random_jets(24, PARTICLES, FEATURES, CLASSES, seed=seed, min_real=min_real)
        with torch.no_grad():
            want = model(batch)
            got = fast(batch)
        scale = float(want.abs().max())
        assert float((got - want).abs().max()) <= 1e-5 * max(scale, 1.0), name
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the model itself must not change"
    assert model.encoder.__class__ is get_entry(name).cls


@pytest.mark.parametrize("name", sorted(FUSED))
def test_training_graph_exposes_plain_modules(name):
    """Module-swapping tools see every linear layer and activation: no raw-weight kernels in training."""
    model = build(name).train()
    seen: list[str] = []
    handles = [m.register_forward_hook(lambda mod, i, o, n=n: seen.append(n))
               for n, m in model.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.GELU))]
    model(random_jets(4, PARTICLES, FEATURES, CLASSES, seed=3, min_real=1))
    for h in handles:
        h.remove()
    called = set(seen)
    linears = {n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    # the class-attention query/key/value projections slice in_proj's weight (see MultiHeadAttention)
    sliced = {n for n in linears if "cls_blocks" in n and n.endswith("attn.in_proj")}
    assert linears - sliced <= called
    assert any(n.endswith("fc1") for n in called) and any(n.endswith("act") for n in called)


def test_fused_kernels_fall_back_under_flop_counting_and_autograd():
    model = build("phat")
    fast = prepare_for_inference(model)
    batch = random_jets(4, PARTICLES, FEATURES, CLASSES, seed=5, min_real=PARTICLES)
    assert flops_per_jet(fast, batch) == flops_per_jet(model, batch)  # the counter sees plain linears
    features = batch.features.clone().requires_grad_(True)
    out = fast(batch.replace(features=features))
    out.sum().backward()  # autograd through the inference copy: the plain operations ran
    assert features.grad is not None and torch.isfinite(features.grad).all()
