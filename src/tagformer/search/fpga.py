"""The ``fpga`` stage of a trial: LUT and latency estimates of the trained tagger as a fixed-point circuit.

A thin adapter over tagformer's hardware path (:mod:`tagformer.export.fpga`, docs/fpga.md). Distributed-
arithmetic LUT counts depend on the trained weight values, so the stage runs after training, on the run's
best weights:

1. build the hardware variant of the trained tagger (:func:`~tagformer.export.fpga.variants.hardware_variant`);
2. calibrate a uniform ``fpga.bits`` fixed-point plan on at most ``fpga.calibration_jets`` training jets of
   the run (:func:`~tagformer.export.fpga.qat.calibrate`); **no quantisation-aware fine-tuning** (the
   search ranks candidates as calibrated; ``tagformer search --finalize`` fine-tunes the chosen ones);
3. ``fpga_acc``: the fake-quantised variant's accuracy on at most ``fpga.accuracy_jets`` validation jets;
4. ``fpga_lut`` / ``fpga_latency_ns``: trace the circuit with da4ml at the run's N
   (:func:`~tagformer.export.fpga.emulate.trace_circuit`) and read da4ml's estimates
   (:func:`~tagformer.export.fpga.cost.estimate`) at ``fpga.clock_mhz`` and ``fpga.stages_per_cycle``.

:func:`check_fpga` refuses, before anything trains, an fpga metric without the extra installed and a family
whose model has no hardware variant or whose values the variant refuses (every choice value is built once).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.errors import ConfigError, ModelError
from tagformer.search.objectives import FPGA_METRICS, FpgaSettings

if TYPE_CHECKING:
    from tagformer.config import RunConfig
    from tagformer.data.info import DatasetInfo
    from tagformer.search.space import SearchSpace


def extra_missing() -> str | None:
    """None when the FPGA extra (da4ml) is importable, else the sentence that says how to install it."""
    from tagformer.export.fpga import EXTRA

    try:
        import da4ml.trace  # noqa: F401
    except ImportError:
        return f"the FPGA extra (da4ml) is not installed: pip install 'tagformer[{EXTRA}]'"
    return None


def supported_models() -> tuple[str, ...]:
    """Models (registry names) that have a hardware variant."""
    from tagformer.export.fpga.variants import SUPPORTED

    return tuple(SUPPORTED)


def model_name(model_or_preset: str) -> str:
    """The registry model of a model or preset name (``deepsets_tiny`` -> ``deepsets``)."""
    from tagformer.models.registry import get_entry

    return get_entry(model_or_preset).name


def check_variant(cfg: RunConfig, info: DatasetInfo) -> None:
    """Build the (untrained) model of ``cfg`` and its hardware variant; ModelError with the variant's reason."""
    from tagformer.export.fpga.variants import hardware_variant
    from tagformer.models.registry import create_model

    model = create_model(cfg.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=cfg.data.num_particles, **cfg.model.overrides)
    hardware_variant(model, model_name(cfg.model.name))


def check_fpga(space: SearchSpace, data: str) -> None:
    """ConfigError, before any training, when the space's fpga metrics cannot be measured (see module doc)."""
    from tagformer.data.datamodule import JetDataModule
    from tagformer.search.candidate import variations

    names = space.fpga_metrics
    if not names:
        return
    where = f"search space {space.source}"
    missing = extra_missing()
    if missing:
        raise ConfigError(f"{where} asks for {', '.join(names)}: {missing}")
    supported = supported_models()
    for fam in space.families:
        if model_name(fam.model) not in supported:
            raise ConfigError(f"{where}: family {fam.name!r} (model {model_name(fam.model)!r}) has no FPGA variant, "
                              f"so {', '.join(names)} cannot be measured for it; models with one: "
                              f"{', '.join(supported)}")
    info = None
    for cand in variations(space):
        cfg = cand.config(data, space.run)
        info = info or JetDataModule(cfg.data).info
        try:
            check_variant(cfg, info)
        except ModelError as exc:
            raise ConfigError(f"{where}, family {cand.family!r} ({cand.label()}): {exc}; {', '.join(names)} need "
                              "the hardware variant (docs/fpga.md)") from exc


def latency_ns(adder_stages: float, clock_mhz: float, stages_per_cycle: int) -> float:
    """Latency of a circuit of ``adder_stages`` pipelined every ``stages_per_cycle`` stages at ``clock_mhz``:
    the rule of :func:`tagformer.export.fpga.cost.estimate`, for a report made at another clock."""
    import math

    return max(1, math.ceil(adder_stages / stages_per_cycle)) * 1000.0 / clock_mhz


def fpga_metrics(run_dir: str | Path, names: Sequence[str], settings: FpgaSettings
                 ) -> tuple[dict[str, float], dict[str, Any]]:
    """The ``fpga`` metrics among ``names`` of a finished run, and a record of how they were measured.

    The record holds ``bits``, ``particles``, ``calibration_jets``, the estimate (``luts``, ``adder_stages``,
    ``cycles``, ``latency_ns``, ``clock_mhz``, ``stages_per_cycle``, ``ops``, ``fits_budget``),
    ``trace_seconds`` (da4ml tracing alone), ``accuracy_jets`` / ``float_acc`` (with ``fpga_acc``) and
    ``seconds`` (the whole stage). Raises :class:`~tagformer.errors.ModelError` when the model has no usable
    hardware variant, :class:`~tagformer.errors.TagformerError` without the extra.
    """
    wanted = [n for n in names if n in FPGA_METRICS]
    if not wanted:
        return {}, {}
    from tagformer.data.datamodule import JetDataModule
    from tagformer.export.fpga import require_da4ml
    from tagformer.export.fpga.cost import estimate
    from tagformer.export.fpga.emulate import trace_circuit
    from tagformer.export.fpga.qat import accuracy, calibrate, collect
    from tagformer.export.fpga.variants import hardware_variant
    from tagformer.rundir import load_run

    require_da4ml()
    start = time.perf_counter()
    run = load_run(run_dir)
    hw = hardware_variant(run.model, model_name(run.config.model.name))
    n = run.data_config.num_particles
    dm = JetDataModule(run.data_config, normaliser_state=run.normaliser_state)
    side = _side_inputs(hw)
    train, _ = collect(dm.train_dataloader(), run.model, settings.calibration_jets, *side)
    plan = calibrate(hw, train, settings.bits, n)
    record: dict[str, Any] = {"bits": settings.bits, "particles": n, "calibration_jets": len(train[2])}
    metrics: dict[str, float] = {}
    if "fpga_acc" in wanted:
        val, float_acc = collect(dm.val_dataloader(), run.model, settings.accuracy_jets, *side)
        metrics["fpga_acc"] = float(accuracy(hw, plan, val))
        record.update(accuracy_jets=len(val[2]), float_acc=float_acc)
    if {"fpga_lut", "fpga_latency_ns"} & set(wanted):
        t0 = time.perf_counter()
        circuit = trace_circuit(hw, plan, n, int(train[0].shape[-1]))
        record["trace_seconds"] = time.perf_counter() - t0
        cost = estimate(circuit, clock_mhz=settings.clock_mhz, stages_per_cycle=settings.stages_per_cycle)
        record.update(cost)
        metrics.update(fpga_lut=float(cost["luts"]), fpga_latency_ns=float(cost["latency_ns"]))
    record["seconds"] = time.perf_counter() - start
    return {k: v for k, v in metrics.items() if k in wanted}, record


def _side_inputs(hw: Any) -> tuple[Any, ...]:
    """``(hw.side_inputs,)`` for a hardware path whose variants feed side inputs (e.g. grid cells) through
    :func:`~tagformer.export.fpga.qat.collect`, else ``()`` (the jets are the normalised features alone)."""
    side = getattr(hw, "side_inputs", None)
    return (side,) if side is not None else ()


def check_candidate(cfg: RunConfig, label: str) -> None:
    """CandidateError (the trial fails, untrained, with the reason) when the hardware path refuses the model
    of ``cfg``: a combination of values :func:`check_fpga` did not build."""
    from tagformer.data.datamodule import JetDataModule
    from tagformer.search.study import CandidateError

    try:
        check_variant(cfg, JetDataModule(cfg.data).info)
    except ModelError as exc:
        raise CandidateError(f"{label}: no FPGA variant: {exc}") from exc
