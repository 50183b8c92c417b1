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
