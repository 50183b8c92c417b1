"""HLS and Verilog projects of a traced circuit (da4ml code generation), and the HLS C simulation.

:func:`write_project` writes, from the same ``CombLogic`` the emulation runs,

- ``hls/``: da4ml's HLS project (Vitis flavour: ``src/<name>.hh`` with the circuit as C++ on ``ap_fixed``
  types, an out-of-context top function in ``utils/``, ``build_vitis_prj.tcl`` / ``build_vivado_hls_prj.tcl``
  for the vendor tools with the part and clock filled in, and a ctypes bridge in ``sim/``);
- ``verilog/``: da4ml's Verilog project, pipelined every ``stages_per_cycle`` adder stages (the same cut as
  the latency estimate), with constraints and ``build_vivado_prj.tcl``.

:func:`c_simulation` compiles the HLS project's C++ with the host compiler (``g++``; about 10-30 s for a tiny
model) and runs it on quantised jets: the C simulation of the code a vendor HLS tool would synthesise.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tagformer.errors import ConfigError, TagformerError
from tagformer.export.fpga import require_da4ml
from tagformer.export.fpga.cost import CLOCK_MHZ, STAGES_PER_CYCLE
from tagformer.export.fpga.emulate import input_matrix
from tagformer.export.fpga.ops import QuantPlan

#: FPGA part the projects target (the trigger's Virtex UltraScale+).
PART = "xcvu13p-flga2577-2-e"


def _check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"the project name must be a C identifier, got {name!r}")
    return name


def _hls(circuit: Any, path: Path, name: str, clock_mhz: float) -> Any:
    from da4ml.codegen import HLSModel

    return HLSModel(circuit, _check_name(name), path, flavor="vitis", part_name=PART,
                    clock_period=1000.0 / clock_mhz)


def write_project(circuit: Any, out: str | Path, name: str = "tagger", clock_mhz: float = CLOCK_MHZ,
                  stages_per_cycle: int = STAGES_PER_CYCLE, metadata: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the HLS and Verilog projects of ``circuit`` under ``out``; returns ``{"hls": ..., "verilog": ...}``."""
    require_da4ml()
    from da4ml.codegen import VerilogModel

    out = Path(out)
    meta = {k: v for k, v in (metadata or {}).items() if isinstance(v, (str, int, float))}
    _hls(circuit, out / "hls", name, clock_mhz).write(meta)
    VerilogModel(circuit, _check_name(name), out / "verilog", latency_cutoff=stages_per_cycle, part_name=PART,
                 clock_period=1000.0 / clock_mhz).write(meta)
    return {"hls": out / "hls", "verilog": out / "verilog"}


def compiler() -> str | None:
    """The C++ compiler the C simulation would use (``$CXX`` or ``g++``), or None if there is none."""
    return shutil.which(os.environ.get("CXX", "g++"))


def c_simulation(circuit: Any, project: str | Path, x: torch.Tensor, m: torch.Tensor, plan: QuantPlan,
                 name: str = "tagger", clock_mhz: float = CLOCK_MHZ) -> np.ndarray:
    """Compile the HLS project at ``project/hls`` (rewritten) and run its C++ on jets ``x``, ``m``: (B, C)."""
    require_da4ml()
    if compiler() is None:
        raise TagformerError("the HLS C simulation needs a C++ compiler (g++ or $CXX); none was found")
    model = _hls(circuit, Path(project) / "hls", name, clock_mhz)
    try:
        model.compile(openmp=False)
    except RuntimeError as exc:
        raise TagformerError(f"the HLS C simulation did not compile ({exc}); see the compiler output above") from exc
    return np.asarray(model.predict(input_matrix(x, m, plan), n_threads=1)).reshape(len(x), -1)
