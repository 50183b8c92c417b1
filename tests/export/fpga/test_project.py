"""HLS / Verilog projects written from the traced circuit, and the HLS C simulation against the emulation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fpga_helpers import F, random_jets, reallike_jets, small_tagger, variant_and_plan

from tagformer.errors import ConfigError
from tagformer.export.fpga.cost import estimate
from tagformer.export.fpga.emulate import emulate, torch_reference, trace_circuit
from tagformer.export.fpga.project import c_simulation, compiler, write_project

pytest.importorskip("da4ml", reason="the FPGA tests need the fpga extra: pip install 'tagformer[fpga]'")

N = 4


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    hw, plan = variant_and_plan(small_tagger("deepsets", phi_dims=(4,), rho_dims=(4,)), "deepsets", N, bits=6)
    return hw, plan, trace_circuit(hw, plan, N, F)


def test_project_files(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, circuit = tiny
    paths = write_project(circuit, tmp_path, name="tiny_tagger", metadata={"model": "deepsets", "bits": 6})
    hls, rtl = paths["hls"], paths["verilog"]
    assert "tiny_tagger" in (hls / "src" / "tiny_tagger.hh").read_text()
    assert (hls / "sim" / "tiny_tagger_bridge.cc").is_file() and (hls / "src/static/ap_types/ap_fixed.h").is_file()
    tcl = (hls / "build_vitis_prj.tcl").read_text()
    assert "xcvu13p" in tcl and "tiny_tagger" in tcl
    meta = json.loads((hls / "metadata.json").read_text())
    assert meta["model"] == "deepsets" and meta["clock_period"] == 5.0 and meta["cost"] == circuit.cost
    # the Verilog pipeline has one register stage per clock cycle of the latency estimate
    stages = sorted(rtl.glob("src/tiny_tagger_stage*.v"))
    assert len(stages) == estimate(circuit)["cycles"]
    assert "module tiny_tagger" in (rtl / "src" / "tiny_tagger.v").read_text()
    with pytest.raises(ConfigError, match="C identifier"):
        write_project(circuit, tmp_path / "bad", name="my-tagger")


@pytest.mark.slow
def test_c_simulation_agrees_with_the_emulation_on_2000_jets(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Compiles the generated HLS C++ (ap_fixed) with g++: about 10-30 s."""
    if compiler() is None:
        pytest.skip("no C++ compiler (g++ or $CXX) on this machine: the C simulation needs one")
    hw, plan, circuit = tiny
    write_project(circuit, tmp_path)
    (xr, mr), (xl, ml) = random_jets(1000, N, seed=3), reallike_jets(1000, N, seed=4)
    x, m = torch.cat([xr, xl]), torch.cat([mr, ml])
    simulated = c_simulation(circuit, tmp_path, x, m, plan)  # one compilation for the 2,000 jets
    assert simulated.shape == (2000, 5)
    assert np.array_equal(simulated, emulate(circuit, x, m, plan))
    assert np.array_equal(simulated, torch_reference(hw, plan, x, m))
    assert len(np.unique(simulated.argmax(1))) > 1
