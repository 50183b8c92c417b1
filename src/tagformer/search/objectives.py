"""The metrics a search can optimise or constrain, chosen by name, and how each is obtained.

=============== ========= ====== ================================================================
name            direction stage  what
=============== ========= ====== ================================================================
val_acc         maximize  train  validation accuracy at the run's best epoch (``summary.json``)
val_loss        minimize  train  validation loss at the run's best epoch
r08             maximize  eval   R0.8: mean background rejection at 80 % signal efficiency on the
                                 validation split, best weights (hls4ml 5-class convention: W, Z,
                                 t each against q+g, averaged; see docs/metrics.md)
flops           minimize  cost   FLOPs per jet, :func:`tagformer.bench.flops.model_flops_per_jet`
                                 (all N slots real: the one convention of every tagformer figure)
params          minimize  cost   trainable parameters, :func:`tagformer.bench.flops.count_params`
latency_ms      minimize  cost   measured median latency of one call of ``measure.batch`` jets on
                                 this machine (:func:`tagformer.bench.profile.profile_model`)
throughput      maximize  cost   measured jets/s at ``measure.throughput_batch`` jets per call
fpga_lut        minimize  fpga   LUTs of the trained tagger's fixed-point circuit (da4ml estimate,
                                 uniform ``fpga.bits``; :mod:`tagformer.search.fpga`)
fpga_latency_ns minimize  fpga   latency of that circuit: ``ceil(adder stages /
                                 fpga.stages_per_cycle)`` cycles at ``fpga.clock_mhz``
fpga_acc        maximize  fpga   accuracy of the calibrated fixed-point variant (fake-quantised,
                                 no fine-tuning) on at most ``fpga.accuracy_jets`` validation jets
=============== ========= ====== ================================================================

``cost`` metrics are known from the built model before any training (so a trial that breaks a cost
constraint can be refused before it trains); ``train`` metrics come from the finished run; ``eval`` metrics
need one more pass over the validation split; ``fpga`` metrics need the FPGA extra (da4ml) and are measured
on the trained weights (distributed-arithmetic LUTs depend on the weight values), after training.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tagformer.errors import TagformerError
from tagformer.export.fpga.cost import CLOCK_MHZ, STAGES_PER_CYCLE

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Metric:
    """A named quantity of a trial: what it means, which way is better, when it is known."""

    name: str
    direction: Literal["maximize", "minimize"]
    stage: Literal["cost", "train", "eval", "fpga"]
    label: str

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"


METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in (
    Metric("val_acc", "maximize", "train", "validation accuracy"),
    Metric("val_loss", "minimize", "train", "validation loss"),
    Metric("r08", "maximize", "eval", "R0.8 (validation)"),
    Metric("flops", "minimize", "cost", "FLOPs per jet"),
    Metric("params", "minimize", "cost", "parameters"),
    Metric("latency_ms", "minimize", "cost", "latency (ms per call)"),
    Metric("throughput", "maximize", "cost", "throughput (jets/s)"),
    Metric("fpga_lut", "minimize", "fpga", "FPGA LUTs (da4ml estimate)"),
    Metric("fpga_latency_ns", "minimize", "fpga", "FPGA latency (ns, estimate)"),
    Metric("fpga_acc", "maximize", "fpga", "fixed-point accuracy (validation, calibrated)"),
)})

#: Metrics measured by the ``fpga`` stage (they need the FPGA extra).
FPGA_METRICS = tuple(m.name for m in METRICS.values() if m.stage == "fpga")

#: Cost metrics every trial records (cheap), whether or not they are objectives.
ALWAYS = ("flops", "params")


class MeasureSettings(BaseModel):
    """How ``latency_ms`` and ``throughput`` are measured (the ``measure:`` section of a search space)."""

    model_config = ConfigDict(extra="forbid")
    device: str = "cpu"
    threads: int | None = Field(1, ge=1)
    batch: int = Field(1, ge=1)
    throughput_batch: int = Field(256, ge=1)
    dtype: Literal["fp32", "bf16"] = "fp32"
    warmup: int = Field(5, ge=0)
    repeats: int = Field(30, ge=1)
    budget_s: float = Field(1.0, gt=0)


class FpgaSettings(BaseModel):
    """How the ``fpga`` metrics are measured (the ``fpga:`` section of a search space; docs/fpga.md)."""

    model_config = ConfigDict(extra="forbid")
    bits: int = 8
    clock_mhz: float = Field(CLOCK_MHZ, gt=0)
    stages_per_cycle: int = Field(STAGES_PER_CYCLE, ge=1)
    calibration_jets: int = Field(2000, ge=1)
    accuracy_jets: int = Field(2000, ge=1)

    @field_validator("bits")
    @classmethod
    def _usable_width(cls, bits: int) -> int:
        from tagformer.export.fpga.fixed import MAX_BITS, MIN_BITS

        if not MIN_BITS <= bits <= MAX_BITS:
            raise ValueError(f"must be an integer in [{MIN_BITS}, {MAX_BITS}] (total width of weights and "
                             f"activations), got {bits}")
        return bits


def cost_metrics(model: nn.Module, names: Iterable[str], *, in_features: int, num_particles: int,
                 measure: MeasureSettings) -> dict[str, float]:
    """The ``cost`` metrics among ``names`` (plus :data:`ALWAYS`) of a built (untrained or trained) model."""
    from tagformer.bench.flops import count_params, model_flops_per_jet

    wanted = set(names) | set(ALWAYS)
    out: dict[str, float] = {
        "flops": float(model_flops_per_jet(model, in_features=in_features, num_particles=num_particles)),
        "params": float(count_params(model)),
    }
    timed = wanted & {"latency_ms", "throughput"}
    if timed:
        out.update(_timed(model, timed, in_features, num_particles, measure))
    return {k: v for k, v in out.items() if k in wanted}


def _timed(model: nn.Module, names: set[str], in_features: int, num_particles: int,
           measure: MeasureSettings) -> dict[str, float]:
    from tagformer.bench.config import ProfileConfig
    from tagformer.bench.profile import profile_model

    batches = sorted({measure.batch if "latency_ms" in names else None,
                      measure.throughput_batch if "throughput" in names else None} - {None})
    config = ProfileConfig(particles=(num_particles,), batches=tuple(batches), device=measure.device,
                           dtype=measure.dtype, threads=measure.threads, warmup=measure.warmup,
                           repeats=measure.repeats, budget_s=measure.budget_s, memory="off", calibrate_size=64)
    rows = {int(r["batch"]): r for r in profile_model(model, in_features, num_particles, config=config)}
    out = {}
    if "latency_ms" in names:
        out["latency_ms"] = float(rows[measure.batch]["latency_ms_p50"])
    if "throughput" in names:
        out["throughput"] = float(rows[measure.throughput_batch]["throughput_jets_s"])
    return out


def train_metrics(summary: Mapping[str, Any], names: Iterable[str]) -> dict[str, float]:
    """The ``train`` metrics among ``names`` from a finished run's summary (its best epoch's validation row)."""
    val = summary.get("val") or {}
    out = {}
    for name in names:
        if METRICS[name].stage == "train":
            if name not in val:
                raise TagformerError(f"run summary has no {name} (validation row: {sorted(val)})")
            out[name] = float(val[name])
    return out


def eval_metrics(run_dir: str | Path, names: Iterable[str], device: str | None = None) -> dict[str, float]:
    """The ``eval`` metrics among ``names`` of a finished run (its best weights on its validation split)."""
    if "r08" not in set(names):
        return {}
    return {"r08": rejection_at_08(run_dir, device)}


def rejection_at_08(run_dir: str | Path, device: str | None = None) -> float:
    """Mean background rejection at 80 % signal efficiency on the run's validation split.

    Raises
    ------
    TagformerError
        When the dataset's convention defines no averaged rejection at 0.8 (only hls4ml 5-class does), or
        when it is undefined on this validation split (a class missing, no background passing).
    """
    import torch

    from tagformer.data.datamodule import JetDataModule
    from tagformer.eval.evaluate import predict
    from tagformer.eval.metrics import compute_metrics
    from tagformer.rundir import load_run

    run = load_run(run_dir)
    check_r08_convention(run.info.class_names)
    dm = JetDataModule(run.data_config, normaliser_state=run.normaliser_state)
    dm.setup("fit")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    probs, labels = predict(run.model, dm.val_dataloader(), device)
    value = compute_metrics(probs, labels, run.info.class_names)["rejection_average"].get("0.8")
    if value is None:
        raise RejectionUndefined(f"R0.8 is undefined on the validation split of {run_dir} (a class is missing "
                                 "or no background jet passes at 80 % signal efficiency)")
    return float(value)


class RejectionUndefined(TagformerError):
    """R0.8 cannot be computed for this trial's validation predictions."""


def check_r08_convention(class_names: list[str]) -> None:
    """TagformerError unless the classes' convention averages a rejection at 80 % signal efficiency."""
    from tagformer.eval.metrics import convention_for

    conv = convention_for(list(class_names))
    if not conv.average or 0.8 not in conv.rejections[0].efficiencies:
        raise TagformerError(f"objective r08 needs a dataset whose convention averages a rejection at 80 % "
                             f"signal efficiency (hls4ml 5-class); these classes ({', '.join(class_names)}) use "
                             f"the {conv.name!r} convention: use val_acc or val_loss")
