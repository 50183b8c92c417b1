"""LorentzParT: the equivariant front end really is equivariant; the ParT behind it sees its inputs."""

from __future__ import annotations

import pytest
import torch
from zoo_helpers import lorentz_transform

from jetfactory import random_jets
from tagformer.models import create_model

pytest.importorskip("lgatr")


def build():
    torch.manual_seed(0)
    return create_model("lorentz_part_tiny", num_classes=3, in_features=3).encoder.eval().double()


def test_embedding_scalars_invariant_and_vectors_covariant_under_beam_symmetry():
    from lgatr import extract_vector

    model = build()
    batch = random_jets(3, 10, 3, 3, seed=0)
    batch = batch.replace(features=batch.features.double(), p4=batch.p4.double())
    moved = batch.replace(p4=lorentz_transform(batch.p4, beta_z=0.4, angle=0.8))
    mv_channels = model.equi.weight.shape[0]
    with torch.no_grad():
        t0, t1 = model.part_inputs(batch), model.part_inputs(moved)
    keep = batch.mask.unsqueeze(-1)
    s0, s1 = t0[..., 16 * mv_channels :], t1[..., 16 * mv_channels :]
    assert torch.allclose(s0 * keep, s1 * keep, atol=1e-9)  # scalar outputs are invariants
    v0 = extract_vector(t0[..., : 16 * mv_channels].unflatten(-1, (mv_channels, 16)))  # (t, x, y, z)
    v1 = extract_vector(t1[..., : 16 * mv_channels].unflatten(-1, (mv_channels, 16)))
    expected = lorentz_transform(v0[..., [1, 2, 3, 0]], beta_z=0.4, angle=0.8)[..., [3, 0, 1, 2]]
    assert torch.allclose(v1 * keep[..., None], expected * keep[..., None], atol=1e-9)


def test_parameters_are_front_end_plus_part():
    model = build()
    total = sum(p.numel() for p in model.parameters())
    front = sum(p.numel() for p in model.equi.parameters())
    assert 0 < front < total
    assert total == front + sum(p.numel() for p in model.part.parameters())


def test_tokens_and_embedding_are_the_inner_parts():
    model = build()
    batch = random_jets(3, 10, 3, 3, seed=1, min_real=1)
    batch = batch.replace(features=batch.features.double(), p4=batch.p4.double())
    with torch.no_grad():
        tokens = model.encode(batch)
        inner = model.part.encode(batch.replace(features=model.part_inputs(batch)))
        torch.testing.assert_close(tokens, inner)
        torch.testing.assert_close(model(batch), model.part.pool(inner, batch.mask))
    assert model.jet_dim == model.embed_dim == model.part.jet_dim
