"""PHAT-JeT's hardware variant: equal to the model in float, bit-exact circuit, grid cells as side inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from export_helpers import write_hls4ml
from fpga_helpers import F, build_run

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError
from tagformer.export.fpga.emulate import quantize_inputs
from tagformer.export.fpga.hardware import _head
from tagformer.export.fpga.hardware_phat import CELL_SPEC, HwPHAT, kernel_index
from tagformer.export.fpga.ops import TorchOps
from tagformer.export.fpga.variants import hardware_variant
from tagformer.models.layers.cells import jet_cells
from tagformer.models.layers.grid import dense_grid_message
from tagformer.models.registry import create_model
from tagformer.models.tagger import Tagger

#: Tiny PHAT: three patches at N = 8 (3, 3, 2 particles), two heads of 4; trained hardware-friendly.
TINY = dict(dim=8, num_heads=2, patch_size=3, ffn_dim=8, norm="none", activation="relu")


def tiny_phat(**overrides: object) -> Tagger:
    torch.manual_seed(0)
    return create_model("phat_small", num_classes=5, in_features=F, **{**TINY, **overrides}).eval().double()


def phat_jets(n_jets: int, n: int, seed: int = 0, spread: float = 0.15) -> JetBatch:
    """pT-ordered massless jets with a variable multiplicity: p4 and standardised-like features."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, n + 1, (n_jets,), generator=g)
    m = torch.arange(n)[None, :] < counts[:, None]
    pt = torch.sort(torch.rand(n_jets, n, generator=g, dtype=torch.float64) * 50 + 1, 1, descending=True).values
    eta = torch.randn(n_jets, n, generator=g, dtype=torch.float64) * spread
    phi = torch.randn(n_jets, n, generator=g, dtype=torch.float64) * spread
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], -1) * m[..., None]
    x = torch.stack([pt.log() - 3, eta / 0.1, phi / 0.1, (eta**2 + phi**2).sqrt() / 0.1 - 1], -1) * m[..., None]
    return JetBatch(features=x, p4=p4, mask=m, labels=torch.arange(n_jets) % 5)


def variant_inputs(tagger: Tagger, hw: HwPHAT, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``tagformer fpga`` feeds the variant: normalised features with the cells appended, 0/1 mask."""
    with torch.no_grad():
        x = torch.cat([tagger.input_norm(batch.features, batch.mask).double(), hw.side_inputs(batch)], -1)
    return x, batch.mask.double()


def model_logits(tagger: Tagger, batch: JetBatch) -> torch.Tensor:
    with torch.no_grad():
        return tagger.forward_heads(batch)["classification"]


@pytest.mark.parametrize("overrides", [{}, {"patch_pool": "max"}, {"depth": 2}])
@pytest.mark.parametrize("n", [8, 7])
def test_variant_equals_the_hardware_friendly_model_in_float(overrides: dict, n: int) -> None:
    """norm=none and activation=relu: the variant (cells as inputs, per-pair grid selection, folded scale,
    patches and patch tokens, exact tables in float mode) computes the trained function."""
    tagger = tiny_phat(**overrides)
    hw = hardware_variant(tagger, "phat")
    batch = phat_jets(64, n)
    with torch.no_grad():
        ours = hw(*variant_inputs(tagger, hw, batch), TorchOps())
    assert torch.allclose(ours, model_logits(tagger, batch), atol=1e-10)
    assert "no norms to remove" in hw.changes()[0] and "as trained: exact" in " ".join(hw.changes())


def test_variant_with_gelu_equals_a_gelu_model() -> None:
    tagger = tiny_phat(activation="gelu")
    hw = HwPHAT(tagger.encoder, _head(tagger), activation="gelu").double()
    batch = phat_jets(64, 8, seed=2)
    with torch.no_grad():
        ours = hw(*variant_inputs(tagger, hw, batch), TorchOps())
    assert torch.allclose(ours, model_logits(tagger, batch), atol=1e-10)
    assert "ReLU instead of GELU" in " ".join(hardware_variant(tagger, "phat").changes())


def test_grid_selection_equals_the_dense_grid_convolution() -> None:
    """The per-pair selection by saturated offsets reproduces scatter + depthwise conv + gather, also for
    cells far apart (up to 63) and outside every window."""
    tagger = tiny_phat()
    block = hardware_variant(tagger, "phat").blocks[0]
    g = torch.Generator().manual_seed(1)
    cells = torch.cat([torch.randint(0, 6, (40, 8, 2), generator=g), torch.randint(0, 64, (40, 4, 2), generator=g)], 1)
    mask = torch.rand(40, 12, generator=g) < 0.8
    x = torch.randn(40, 12, 8, generator=g, dtype=torch.float64) * mask[..., None]
    grid = tagger.encoder.blocks[0].gmp.grid
    dense = dense_grid_message(x, cells, mask, grid.weight, grid.bias)
    with torch.no_grad():
        ours = block.grid(x, cells[..., 0].double(), cells[..., 1].double(), TorchOps(record={}), "t")
    assert torch.allclose(ours[mask], dense[mask], atol=1e-12)


def test_kernel_index_covers_the_window_once() -> None:
    index = kernel_index(8)
    assert len(index) == 256 and sorted(index[index < 64]) == list(range(64))
    a, c = np.divmod(np.arange(256), 16)
    assert (index[(a == 1) & (c == 1)] == 0).all() and (index[(a == 0) | (c >= 9)] == 64).all()


def test_cells_are_the_models_and_enter_as_integers() -> None:
    tagger = tiny_phat()
    hw = hardware_variant(tagger, "phat")
    batch = phat_jets(32, 8, spread=0.6)
    x, m = variant_inputs(tagger, hw, batch)
    assert torch.equal(x[..., -2:], jet_cells(batch.p4, batch.mask).double())
    assert x[..., -2:].max() <= 63 and hw.side_spec == CELL_SPEC
    plan = _plan(hw, x, m)
    xq, _ = quantize_inputs(x, m, plan)
    assert torch.equal(xq[..., -2:], x[..., -2:])  # the cells pass unchanged
    assert not torch.equal(xq[..., :-2], x[..., :-2])  # the features are quantised


def test_norms_dropped_and_mean_pooling_refused() -> None:
    assert "norms removed (LayerNorm" in hardware_variant(tiny_phat(norm="layer"), "phat").changes()[0]
    with pytest.raises(ModelError, match="needs max pooling"):
        hardware_variant(tiny_phat(pool="mean"), "phat")


def _plan(hw: HwPHAT, x: torch.Tensor, m: torch.Tensor, bits: int = 8):  # type: ignore[no-untyped-def]
    from tagformer.export.fpga.qat import calibrate

    return calibrate(hw, (x, m, torch.zeros(len(x), dtype=torch.long)), bits, x.shape[1])


@pytest.fixture(scope="module", params=["mean", "max"])
def traced(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    pytest.importorskip("da4ml", reason="the FPGA tests need the fpga extra: pip install 'tagformer[fpga]'")
    from tagformer.export.fpga.emulate import trace_circuit

    tagger = tiny_phat(patch_pool=request.param)
    hw = hardware_variant(tagger, "phat")
    x, m = variant_inputs(tagger, hw, phat_jets(256, 8, seed=9))
    plan = _plan(hw, x, m)
    return tagger, hw, plan, trace_circuit(hw, plan, 8, x.shape[-1])


def test_emulation_is_bit_exact(traced) -> None:  # type: ignore[no-untyped-def]
    from tagformer.export.fpga.emulate import emulate, torch_reference
    from tagformer.export.fpga.fixed import to_integers

    tagger, hw, plan, circuit = traced
    for seed, spread in ((3, 0.15), (4, 0.5)):  # dense cores (most pairs in a window) and wide jets
        x, m = variant_inputs(tagger, hw, phat_jets(300, 8, seed=seed, spread=spread))
        emulated, reference = emulate(circuit, x, m, plan), torch_reference(hw, plan, x, m)
        spec = plan.acts["logits"]
        assert np.array_equal(to_integers(emulated, spec), to_integers(reference, spec))
        assert np.abs(emulated - reference).max() == 0.0
        assert len(np.unique(reference.argmax(1))) > 1


def test_emulation_agrees_after_finetuning(traced) -> None:  # type: ignore[no-untyped-def]
    import copy

    from tagformer.export.fpga.emulate import emulate, torch_reference, trace_circuit
    from tagformer.export.fpga.qat import finetune

    tagger, hw, plan, _ = traced
    hw = copy.deepcopy(hw)
    kernel = hw.blocks[0].kernel.detach().clone()
    batch = phat_jets(128, 8, seed=5)
    x, m = variant_inputs(tagger, hw, batch)
    finetune(hw, plan, (x, m, batch.labels), epochs=1, lr=1e-2, batch_size=64)
    assert not torch.equal(hw.blocks[0].kernel, kernel)  # the grid kernel trains through the selection
    circuit = trace_circuit(hw, plan, 8, x.shape[-1])
    assert np.array_equal(emulate(circuit, x, m, plan), torch_reference(hw, plan, x, m))


def test_estimates_are_positive_and_finite(traced) -> None:  # type: ignore[no-untyped-def]
    from tagformer.export.fpga.cost import estimate

    cost = estimate(traced[3])
    for key in ("luts", "adder_stages", "latency_ns"):
        assert cost[key] > 0 and math.isfinite(cost[key])


def test_fpga_command_on_a_tiny_phat_run(tmp_path: Path) -> None:
    pytest.importorskip("da4ml", reason="needs the fpga extra: pip install 'tagformer[fpga]'")
    from tagformer.cli.main import main

    data = write_hls4ml(tmp_path / "tiny.h5", jets=150, particles=12)
    overrides = [f"model.{k}={v}" for k, v in TINY.items()]
    run = build_run(tmp_path / "run", data, "phat_small", overrides)
    out = tmp_path / "fpga"
    assert main(["fpga", str(run), "--bits", "8", "--particles", "8", "--out", str(out),
                 "--finetune-epochs", "1"]) == 0
    report = json.loads((out / "fpga.json").read_text())
    assert report["model"] == "phat"
    row = report["rows"][0]
    assert row["emulation_mismatched_jets"] == 0 and row["emulation_max_abs_diff"] == 0.0
    assert row["accuracy_variant_float"] == row["accuracy_float"]  # hardware-friendly: the function is kept
    assert row["accuracy_emulated"] == row["accuracy_quantised"] and row["test_jets"] > 0
    assert row["luts"] > 0 and row["latency_ns"] > 0
    assert any("grid cells" in c for c in report["changes"])


def test_relu_option_survives_inference_fusion_and_is_checked() -> None:
    block = tiny_phat().encoder.blocks[0].for_inference()
    assert isinstance(block.act, torch.nn.ReLU) and isinstance(block.fc1, torch.nn.Linear)
    with pytest.raises(ModelError, match="unknown FFN activation"):
        tiny_phat(activation="tanh")
