"""Resource and latency estimates of a traced circuit (da4ml's cost model, no vendor tools).

- LUTs: da4ml's ``cost`` of the circuit (sum over operations; adders count one LUT per output bit, lookup
  tables and variable products by their own formulas). The PHAT-JeT hardware study calibrated it to
  post-route LUTs within a few per cent for its models; for others it is an estimate.
- Latency: da4ml's critical path in adder stages (``latency``, with ``HWConfig(1, -1, -1)`` every adder
  counts one stage whatever its width). The circuit is pipelined every ``stages_per_cycle`` adder stages,
  so ``cycles = ceil(stages / stages_per_cycle)`` and ``ns = cycles * 1000 / clock_mhz``.

Defaults: 200 MHz (5 ns) with 4 adder stages per cycle, i.e. about 1.25 ns per adder stage including
routing, which is conservative next to the 2 stages per 2 ns that JEDI-linear closed on a VU13P. The
numbers are estimates; a vendor place-and-route is the measurement.
"""

from __future__ import annotations

import math
from typing import Any

#: Clock assumed for the latency estimate (MHz) and adder stages per clock cycle.
CLOCK_MHZ = 200.0
STAGES_PER_CYCLE = 4
#: Level-1 trigger budget the report compares against (ns).
BUDGET_NS = 100.0


def estimate(circuit: Any, clock_mhz: float = CLOCK_MHZ, stages_per_cycle: int = STAGES_PER_CYCLE) -> dict[str, Any]:
    """``{"luts", "adder_stages", "cycles", "latency_ns", "clock_mhz", "stages_per_cycle", "fits_budget"}``."""
    luts = float(circuit.cost)
    stages = float(circuit.latency[1])
    cycles = max(1, math.ceil(stages / stages_per_cycle))
    ns = cycles * 1000.0 / clock_mhz
    return {"luts": luts, "adder_stages": stages, "cycles": cycles, "latency_ns": ns, "clock_mhz": clock_mhz,
            "stages_per_cycle": stages_per_cycle, "ops": len(circuit.ops), "fits_budget": ns <= BUDGET_NS}
