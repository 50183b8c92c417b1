"""The torch fixed-point quantiser against hand-computed values and da4ml's own numpy quantiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tagformer.errors import ConfigError
from tagformer.export.fpga.fixed import FixedSpec, check_bits, fake_quant, quantize, spec_for_range, to_integers

S = FixedSpec(1, 2, 2)  # signed, range [-4, 3.75], step 0.25


@pytest.mark.parametrize(("value", "rnd", "trn"), [
    (1.3, 1.25, 1.25), (1.375, 1.5, 1.25), (-1.375, -1.25, -1.5), (1.125, 1.25, 1.0), (-0.1, 0.0, -0.25),
    (3.9, 3.75, 3.75), (10.0, 3.75, 3.75), (-4.0, -4.0, -4.0), (-10.0, -4.0, -4.0),
])
def test_round_and_saturate_by_hand(value: float, rnd: float, trn: float) -> None:
    x = torch.tensor([value], dtype=torch.float64)
    assert quantize(x, S).item() == rnd
    assert quantize(x, S._replace(round="TRN")).item() == trn


def test_wrap_and_unsigned_by_hand() -> None:
    wrap = S._replace(overflow="WRAP", round="TRN")
    x = torch.tensor([4.0, 4.25, -4.25, 7.75], dtype=torch.float64)
    assert quantize(x, wrap).tolist() == [-4.0, -3.75, 3.75, -0.25]
    u = FixedSpec(0, 1, 3)  # [0, 1.875], step 0.125
    assert quantize(torch.tensor([-0.5, 0.06, 0.0625, 5.0], dtype=torch.float64), u).tolist() == [0.0, 0.0, 0.125,
                                                                                                 1.875]


@pytest.mark.parametrize("spec", [FixedSpec(1, 3, 4), FixedSpec(0, 2, 5), FixedSpec(1, -1, 8),
                                  FixedSpec(1, 3, 4, "TRN", "WRAP"), FixedSpec(0, 1, 6, "RND", "WRAP")])
def test_agrees_with_da4ml_quantiser(spec: FixedSpec) -> None:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    from da4ml.trace.ops import quantize as da_quantize

    x = np.random.default_rng(0).normal(0, 6, 5000)
    ours = quantize(torch.as_tensor(x), spec).numpy()
    theirs = da_quantize(x, spec.k, spec.i, spec.f, spec.overflow, spec.round)
    assert np.array_equal(ours, theirs)


def test_straight_through_gradient_is_one_inside_zero_when_saturated() -> None:
    x = torch.tensor([0.3, -1.2, 9.0, -9.0], dtype=torch.float64, requires_grad=True)
    y = fake_quant(x, S)
    assert y.detach().tolist() == [0.25, -1.25, 3.75, -4.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_formats_from_ranges_and_integer_codes() -> None:
    assert spec_for_range(3.2, 8, True) == FixedSpec(1, 2, 5)
    assert spec_for_range(0.3, 8, False) == FixedSpec(0, -1, 9)
    assert to_integers(np.array([1.25, -4.0]), S).tolist() == [5, -16]
    with pytest.raises(ValueError):
        to_integers(np.array([0.1]), S)


@pytest.mark.parametrize("bits", [0, 1, 25, True, 8.0])
def test_impossible_bit_widths(bits: object) -> None:
    with pytest.raises(ConfigError, match="--bits"):
        check_bits(bits)  # type: ignore[arg-type]
