"""L-GATr: the logits are invariant under exactly the Lorentz subgroup the spurions leave unbroken."""

from __future__ import annotations

import math

import pytest
import torch
from zoo_helpers import lorentz_transform

from jetfactory import random_jets
from tagformer.models import create_model

pytest.importorskip("lgatr")


def boost_x(p4: torch.Tensor, beta: float) -> torch.Tensor:
    """A boost along x (not a symmetry once the beam axis is singled out)."""
    px, py, pz, e = p4.double().unbind(-1)
    gamma = 1.0 / math.sqrt(1.0 - beta**2)
    px, e = gamma * (px - beta * e), gamma * (e - beta * px)
    return torch.stack([px, py, pz, e], -1)


def model(**overrides):
    """float64, so that the check tests the symmetry and not float32 cancellations in Minkowski norms."""
    torch.manual_seed(0)
    return create_model("lgatr", num_classes=4, in_features=3, **overrides).eval().double()


def run(net, batch, p4):
    with torch.no_grad():
        return net(batch.replace(p4=p4.double(), features=batch.features.double()))


def rel_diff(a, b):
    return float((a - b).abs().max() / a.abs().max().clamp(min=1))


_JETS = random_jets(4, 12, 3, 4, seed=0)
BATCH = _JETS.replace(p4=_JETS.p4.double())


def test_without_spurions_logits_are_lorentz_invariant():
    net = model(beam_spurion="none", use_features=False, subgroup_primitives=False)
    ref = run(net, BATCH, BATCH.p4)
    moved = lorentz_transform(boost_x(BATCH.p4, 0.4), beta_z=0.5, angle=1.1)
    assert rel_diff(ref, run(net, BATCH, moved)) < 1e-8


@pytest.mark.parametrize("subgroup", [True, False])
def test_beam_spurion_keeps_beam_rotations_and_boosts_only(subgroup):
    net = model(use_features=False, subgroup_primitives=subgroup)
    ref = run(net, BATCH, BATCH.p4)
    assert rel_diff(ref, run(net, BATCH, lorentz_transform(BATCH.p4, beta_z=0.6, angle=2.0))) < 1e-8
    assert rel_diff(ref, run(net, BATCH, boost_x(BATCH.p4, 0.6))) > 1e-4  # broken symmetry


def test_time_spurion_breaks_boosts_along_the_beam():
    net = model(use_features=False, time_spurion=True, subgroup_primitives=False)
    ref = run(net, BATCH, BATCH.p4)
    assert rel_diff(ref, run(net, BATCH, lorentz_transform(BATCH.p4, beta_z=0.0, angle=0.9))) < 1e-8
    assert rel_diff(ref, run(net, BATCH, lorentz_transform(BATCH.p4, beta_z=0.6, angle=0.0))) > 1e-4


def test_padding_never_reaches_the_logits():
    net = model()
    garbage = BATCH.p4.masked_fill(~BATCH.mask.unsqueeze(-1), 1e3)
    assert rel_diff(run(net, BATCH, BATCH.p4), run(net, BATCH, garbage)) < 1e-5


def test_attention_probe_reproduces_lgatrs_attention_output():
    """The probe's weights, applied to the block's values, give lgatr's own attention output."""
    from lgatr.primitives import sdp_attention

    from tagformer.models.attention.probe import capture_attention
    from tagformer.models.lgatr import attention_mask, lorentz_multivectors

    torch.manual_seed(1)
    tagger = create_model("lgatr_medium", num_classes=4, in_features=3).eval()
    encoder = tagger.encoder
    batch = random_jets(3, 9, 3, 4, seed=2, min_real=1)
    with torch.no_grad(), capture_attention(tagger) as maps:
        tagger(batch)
    assert sorted(maps) == [f"encoder.attn_probes.{i}" for i in range(4)]
    amap = maps["encoder.attn_probes.0"][0]
    assert amap.kind == "particles" and amap.weights.shape == (3, 4, 9, 9)
    mask = batch.mask
    mv = lorentz_multivectors(batch.p4, mask, encoder.spurions, encoder.p4_scale)
    with torch.no_grad():
        mv, s = encoder.net.linear_in(mv, scalars=batch.features.masked_fill(~mask.unsqueeze(-1), 0.0))
        block = encoder.net.blocks[0]
        q_mv, k_mv, v_mv, q_s, k_s, v_s = block.attention.qkv_module(*block.norm1(mv, scalars=s))
        want_mv, want_s = sdp_attention(q_mv, k_mv, v_mv, q_s, k_s, v_s, attn_mask=attention_mask(mask))
    got = amap.weights @ torch.cat([v_mv.flatten(-2), v_s], -1)
    want = torch.cat([want_mv.flatten(-2), want_s], -1)
    real = mask[:, None, :, None]
    torch.testing.assert_close(got * real, want * real, atol=1e-5, rtol=1e-4)
