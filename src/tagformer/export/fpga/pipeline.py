"""``tagformer fpga``: from a trained run to fixed-point accuracy, bit-exact emulation and cost estimates.

For each particle count N: the run's data at N particles, the float tagger's accuracy, the hardware
variant's float accuracy, calibration, quantised accuracy before and after fine-tuning, the da4ml circuit,
its emulated accuracy and its disagreement count with the torch quantised model (0 = bit-exact), and the
LUT / latency estimate. Written as ``fpga.json`` and ``fpga.md`` in the output folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.errors import ConfigError, TagformerError
from tagformer.export.fpga import require_da4ml
from tagformer.export.fpga.cost import BUDGET_NS, estimate
from tagformer.export.fpga.emulate import emulate_checked, torch_reference, trace_circuit
from tagformer.export.fpga.fixed import check_bits
from tagformer.export.fpga.project import c_simulation, compiler, write_project
from tagformer.export.fpga.qat import accuracy, calibrate, collect, finetune
from tagformer.export.fpga.variants import SUPPORTED, hardware_variant


def _check(bits: int, particles: Sequence[int], epochs: int) -> None:
    check_bits(bits)
    if not particles or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in particles):
        raise ConfigError(f"--particles must be positive integers, got {list(particles)}")
    if epochs < 0:
        raise ConfigError(f"--finetune-epochs must be >= 0, got {epochs}")


def fpga_run(run_dir: str | Path, out: str | Path, *, bits: int = 8, particles: Sequence[int] = (16,),
             finetune_epochs: int = 1, max_train_jets: int | None = 20000, max_test_jets: int | None = 2000,
             lr: float = 1e-3, project: bool = False, csim: bool = False,
             log: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Run the hardware path on ``run_dir`` and write the report to ``out``; returns the report.

    ``project``: also write the HLS and Verilog projects of each circuit to ``out/project/n<N>``;
    ``csim``: also compile the HLS C++ (needs g++) and compare it with the emulation on the test jets.
    """
    _check(bits, particles, finetune_epochs)
    require_da4ml()
    if csim and compiler() is None:
        raise TagformerError("--csim needs a C++ compiler (g++ or $CXX); none was found")
    from tagformer.data.datamodule import JetDataModule
    from tagformer.models.registry import get_entry
    from tagformer.rundir import load_run

    loaded = load_run(run_dir)
    name = get_entry(loaded.config.model.name).name
    if name not in SUPPORTED:
        hardware_variant(loaded.model, name)  # raises the message listing the supported models
    rows = []
    for n in particles:
        log(f"N={n}: loading data")
        dm = JetDataModule(loaded.data_config.model_copy(update={"num_particles": n}), loaded.normaliser_state)
        hw = hardware_variant(loaded.model, name)
        train, _ = collect(dm.train_dataloader(), loaded.model, max_train_jets, hw.side_inputs)
        test, float_acc = collect(dm.test_dataloader(), loaded.model, max_test_jets, hw.side_inputs)
        in_features = int(test[0].shape[-1])
        variant_acc = accuracy(hw, None, test)
        plan = calibrate(hw, train, bits, n)
        before = accuracy(hw, plan, test)
        log(f"N={n}: float {float_acc:.4f}, variant {variant_acc:.4f}, quantised {before:.4f}; fine-tuning")
        losses = finetune(hw, plan, train, finetune_epochs, lr=lr)
        after = accuracy(hw, plan, test)
        log(f"N={n}: quantised after fine-tuning {after:.4f}; tracing the circuit")
        start = time.perf_counter()
        circuit = trace_circuit(hw, plan, n, in_features)
        trace_s = time.perf_counter() - start
        reference = torch_reference(hw, plan, test[0], test[1])
        emulated, interp = emulate_checked(circuit, test[0], test[1], plan, reference)
        labels = test[2].numpy()
        cost = estimate(circuit)
        rows.append({
            "particles": n, "bits": bits, "test_jets": len(labels), "train_jets": len(train[2]),
            "accuracy_float": float_acc, "accuracy_variant_float": variant_acc,
            "accuracy_quantised_before_finetune": before, "accuracy_quantised": after,
            "accuracy_emulated": float(np.mean(emulated.argmax(1) == labels)) if len(labels) else float("nan"),
            "emulation_mismatched_jets": int(np.any(emulated != reference, axis=1).sum()),
            "emulation_max_abs_diff": float(np.abs(emulated - reference).max()) if len(labels) else 0.0,
            "finetune_losses": losses, "trace_seconds": trace_s, **cost, **interp,
            "formats": {k: v.as_dict() for k, v in plan.acts.items()},
        })
        if project or csim:
            rows[-1].update(_project(circuit, Path(out) / "project" / f"n{n}", test, plan, reference, csim, log))
        log(f"N={n}: emulated {rows[-1]['accuracy_emulated']:.4f}, mismatches {rows[-1]['emulation_mismatched_jets']}, "
            f"{cost['luts']:.0f} LUT, {cost['latency_ns']:.0f} ns")
    report = {"run": str(Path(run_dir)), "model": name, "preset": loaded.config.model.name, "bits": bits,
              "finetune_epochs": finetune_epochs, "changes": hardware_variant(loaded.model, name).changes(),
              "budget_ns": BUDGET_NS, "rows": rows}
    write_report(report, Path(out))
    return report


def _project(circuit: Any, where: Path, test: Any, plan: Any, reference: np.ndarray, csim: bool,
             log: Callable[[str], None]) -> dict[str, Any]:
    """Write the HLS/Verilog projects; with ``csim`` compile the HLS C++ and count its disagreements."""
    log(f"writing the HLS and Verilog projects to {where}")
    paths = write_project(circuit, where)
    row: dict[str, Any] = {"project": {k: str(v) for k, v in paths.items()}}
    if csim:
        log("compiling the HLS C simulation")
        start = time.perf_counter()
        simulated = c_simulation(circuit, where, test[0], test[1], plan)
        row["csim_mismatched_jets"] = int(np.any(simulated != reference, axis=1).sum())
        row["csim_seconds"] = time.perf_counter() - start
    return row


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table."""
    lines = [f"# FPGA estimate: {report['preset']} ({report['bits']}-bit weights and activations)", "",
             "| N | float acc | variant float acc | quantised acc | emulated acc | mismatches | LUT (est.) | "
             "adder stages | latency ns @ MHz | fits 100 ns |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['particles']} | {r['accuracy_float']:.4f} | {r['accuracy_variant_float']:.4f} | "
                     f"{r['accuracy_quantised']:.4f} | {r['accuracy_emulated']:.4f} | "
                     f"{r['emulation_mismatched_jets']} | {r['luts']:.0f} | {r['adder_stages']:.0f} | "
                     f"{r['latency_ns']:.0f} @ {r['clock_mhz']:.0f} | {'yes' if r['fits_budget'] else 'no'} |")
    for r in report["rows"]:
        if r.get("python_jets"):
            lines.append(f"\nN = {r['particles']}: da4ml's compiled interpreter {r['compiled_interpreter']}; "
                         f"{r['python_jets']} jets re-run through its Python reference, the two interpreters "
                         f"differ on {r['compiled_interpreter_disagreements']}")
        if "project" in r:
            csim = (f"; HLS C simulation disagrees with the emulation on {r['csim_mismatched_jets']} of "
                    f"{r['test_jets']} test jets" if "csim_mismatched_jets" in r else "")
            lines.append(f"\nN = {r['particles']}: HLS project {r['project']['hls']}, Verilog {r['project']['verilog']}"
                         f"{csim}")
    lines += ["", "Hardware variant changes:", *[f"- {c}" for c in report["changes"]], ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path) -> None:
    from tagformer.atomic import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    for path, text in ((out / "fpga.json", json.dumps(report, indent=2)), (out / "fpga.md", markdown(report))):
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
