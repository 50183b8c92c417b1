"""Registry-wide contract tests: every registered model at its smallest preset."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from zoo_helpers import (
    export_onnx,
    lorentz_transform,
    permute_real,
    with_extra_padding,
    with_new_padding,
)

from jetfactory import random_jets
from tagformer.models import create_model, get_entry, list_models

FEATURES, CLASSES, PARTICLES, EXTRA = 5, 5, 16, 8
MODELS = list_models()


def build(name: str, seed: int = 0) -> torch.nn.Module:
    entry = get_entry(name)
    for pkg in entry.capabilities.requires:
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{name} needs {pkg}")
    torch.manual_seed(seed)
    return create_model(
        entry.smallest, num_classes=CLASSES, in_features=FEATURES, num_particles=PARTICLES + EXTRA
    )


def jets(seed: int = 0, batch: int = 6, particles: int = PARTICLES):
    return random_jets(batch, particles, FEATURES, CLASSES, seed=seed, min_real=1)


def logits(model: torch.nn.Module, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(batch)


def assert_close(a: torch.Tensor, b: torch.Tensor, what: str, tol: float = 1e-4) -> None:
    scale = max(1.0, float(a.abs().max()))
    diff = float((a - b).abs().max())
    assert diff <= tol * scale, f"{what}: max |diff| {diff:.3g} (logit scale {scale:.3g})"


def test_registry_is_not_empty():
    assert MODELS, "no model registered"


@pytest.mark.parametrize("name", MODELS)
def test_shape_and_finite(name):
    model = build(name)
    out = logits(model, jets())
    assert out.shape == (6, CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_gradient_reaches_every_parameter(name):
    model = build(name).train()
    batch = jets(seed=1)
    loss = torch.nn.functional.cross_entropy(model(batch), batch.labels)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"


@pytest.mark.parametrize("name", MODELS)
def test_padding_values_do_not_matter(name):
    model = build(name)
    batch = jets(seed=2)
    ref = logits(model, batch)
    assert_close(ref, logits(model, with_new_padding(batch, seed=3)), "new padding values")


@pytest.mark.parametrize("name", MODELS)
def test_extra_padding_does_not_matter(name):
    model = build(name)
    batch = jets(seed=4)
    ref = logits(model, batch)
    assert_close(ref, logits(model, with_extra_padding(batch, EXTRA, seed=5)), "extra padded slots")


@pytest.mark.parametrize("name", MODELS)
def test_few_particle_jets(name):
    model = build(name)
    batch = random_jets(5, PARTICLES, FEATURES, CLASSES, seed=6, min_real=1)
    n = torch.tensor([1, 2, 3, 1, 2])
    batch = batch.replace(mask=torch.arange(PARTICLES)[None] < n[:, None])
    assert torch.isfinite(logits(model, batch)).all()


@pytest.mark.parametrize("name", MODELS)
def test_jets_without_real_particles(name):
    """A batch where some (or all) jets have no real particle: finite logits, the others unchanged."""
    model = build(name)
    batch = jets(seed=7, batch=4)
    ref = logits(model, batch)
    emptied = batch.replace(mask=batch.mask & (torch.arange(4) < 2)[:, None])
    out = logits(model, emptied)
    assert torch.isfinite(out).all()
    assert_close(ref[:2], out[:2], "jets beside empty ones")
    assert torch.isfinite(logits(model, batch.replace(mask=torch.zeros_like(batch.mask)))).all()


@pytest.mark.parametrize("name", [m for m in MODELS if get_entry(m).capabilities.permutation_invariant])
def test_permutation_invariance(name):
    model = build(name)
    batch = jets(seed=7)
    assert_close(logits(model, batch), logits(model, permute_real(batch, seed=8)), "permuted particles")


@pytest.mark.parametrize("name", [m for m in MODELS if get_entry(m).capabilities.lorentz_equivariant])
def test_lorentz_invariant_logits(name):
    """Rotations about and boosts along the beam axis of ``p4`` leave the logits unchanged."""
    model = build(name)
    batch = jets(seed=9)
    moved = batch.replace(p4=lorentz_transform(batch.p4, beta_z=0.3, angle=0.7))
    assert_close(logits(model, batch), logits(model, moved), "Lorentz-transformed p4", tol=1e-3)


@pytest.mark.parametrize("name", [m for m in MODELS if get_entry(m).capabilities.onnx_exportable])
def test_onnx_parity(name):
    ort = pytest.importorskip("onnxruntime")
    model = build(name).eval()
    # fitted-looking statistics, so that the graph's first node (the model's own InputNorm) matters
    model.input_norm.set_stats(torch.linspace(-0.5, 0.5, FEATURES), torch.linspace(0.5, 2.0, FEATURES))
    session = ort.InferenceSession(export_onnx(model, jets(seed=10, batch=4)))
    for batch_size, particles in ((3, 10), (7, PARTICLES + EXTRA)):
        batch = jets(seed=11, batch=batch_size, particles=particles)
        feeds = {"features": batch.features.numpy(), "p4": batch.p4.numpy(), "mask": batch.mask.numpy()}
        (out,) = session.run(None, feeds)
        diff = float((torch.from_numpy(out) - logits(model, batch)).abs().max())
        assert diff <= 1e-4, f"ONNX vs torch at B={batch_size}, N={particles}: max |diff| {diff:.3g}"
