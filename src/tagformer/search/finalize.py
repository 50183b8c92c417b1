"""The local stage of a search (``tagformer search --finalize OUT``): the chosen candidates trained longer,
evaluated on the test split and taken through the hardware path.

For each chosen trial (the Pareto trials ordered by the first objective, the first ``top`` of them, or the
trials named in ``trials``):

1. **train** its run config (the content of its Pareto YAML: the stored ``run_config``) with
   ``trainer.max_epochs = epochs`` and ``overrides`` into ``OUT/final/trial-NNNN``
   (:func:`tagformer.train.run.train`). A run left by an interrupted finalize resumes from its last
   checkpoint; a finished one is read back, not trained again; a run of other settings (e.g. another
   ``epochs``) is refused before anything trains, never overwritten;
2. **evaluate** its best weights on the test split (:func:`tagformer.eval.evaluate.evaluate_run`;
   ``metrics.json`` is reused while it is fresh);
3. **hardware path**, when the FPGA extra is installed and the model has a hardware variant:
   :func:`tagformer.export.fpga.pipeline.fpga_run` at the run's N, ``bits`` wide, with ``finetune_epochs`` of
   quantisation-aware fine-tuning: float, fixed-point and emulated accuracy on the test jets, emulation
   mismatches, LUTs and latency (``RUN/fpga/fpga.json``, reused while its settings match). Otherwise the row
   says why (``fpga_note``).

Writes ``OUT/final/final.csv`` and ``OUT/final/final.md``: one row per trial, next to its search-budget
objectives.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.atomic import atomic_write_text
from tagformer.errors import ConfigError, TagformerError
from tagformer.export.fpga.cost import BUDGET_NS, CLOCK_MHZ, STAGES_PER_CYCLE
from tagformer.search.candidate import flatten
from tagformer.search.fpga import extra_missing, latency_ns, model_name, supported_models
from tagformer.search.study import CandidateError

if TYPE_CHECKING:
    from tagformer.config import RunConfig
    from tagformer.search.report import SearchResults

FINAL_DIR, CSV_NAME, TABLE_NAME = "final", "final.csv", "final.md"
#: The file next to ``fpga.json`` recording the settings it was made with (so a rerun reuses it).
FPGA_SETTINGS = "finalize.json"


@dataclass(frozen=True)
class HardwareSettings:
    """The hardware path of the local stage: on or off, width, fine-tuning, jets, and the latency clock."""

    enabled: bool = True
    bits: int = 8
    finetune_epochs: int = 3
    max_train_jets: int | None = 20000
    max_test_jets: int | None = 2000
    clock_mhz: float = CLOCK_MHZ
    stages_per_cycle: int = STAGES_PER_CYCLE


def final_dir(out_dir: str | Path, number: int) -> Path:
    """``OUT/final/trial-0007``."""
    return Path(out_dir) / FINAL_DIR / f"trial-{number:04d}"


def choose(res: SearchResults, top: int | None = None, trials: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """The report rows to finalize: ``trials`` (a duplicate stands for its original), else the Pareto trials
    ordered by the first objective, the first ``top`` of them. ConfigError for a trial that cannot be."""
    if top is not None and trials:
        raise ConfigError("--top and --pick both choose the trials to finalize; give one of them")
    if top is not None and top < 1:
        raise ConfigError(f"--top must be >= 1, got {top}")
    if trials:
        rows = {r["trial"]: r for r in res.rows}
        chosen: list[dict[str, Any]] = []
        for number in trials:
            row = rows.get(number)
            if row is None:
                raise ConfigError(f"the study has no trial {number} (trials: {', '.join(map(str, rows)) or 'none'})")
            row = rows.get(row["duplicate_of"], row) if row["duplicate_of"] is not None else row
            if row["state"] != "complete" or not row["trained"] or not row["run_config"]:
                why = row["error"] or ("not trained" if not row["trained"] else row["state"])
                raise ConfigError(f"trial {number} cannot be finalized: it is not a complete, trained trial ({why})")
            if row not in chosen:
                chosen.append(row)
        return chosen
    pareto = [r for r in res.pareto_rows() if r["run_config"]]
    if not pareto:
        raise TagformerError("the search has no Pareto trial yet (no complete, feasible, trained trial); "
                             "run more trials or choose trials with --pick")
    return pareto[:top] if top else pareto


def final_config(row: Mapping[str, Any], epochs: int, overrides: Sequence[str] = ()) -> RunConfig:
    """The trial's stored run config with ``trainer.max_epochs = epochs`` and ``overrides``."""
    from tagformer.config import build_config

    if epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    return build_config(base=row["run_config"], overrides=[f"trainer.max_epochs={epochs}", *overrides])


def check_not_other(run_dir: Path, cfg: RunConfig) -> None:
    """TagformerError when ``run_dir`` holds a run of other settings than ``cfg`` (it is never overwritten)."""
    from tagformer.config import load_config
    from tagformer.rundir import RunDir

    paths = RunDir(run_dir)
    if not paths.is_run():
        return
    there, here = flatten(load_config(paths.config).to_dict()), flatten(cfg.to_dict())
    diff = [k for k in sorted(set(there) | set(here)) if there.get(k) != here.get(k)]
    if diff:
        shown = "; ".join(f"{k} {json.dumps(there.get(k))} there, {json.dumps(here.get(k))} now" for k in diff[:3])
        state = "finished" if paths.is_finished() else "started"
        raise TagformerError(f"{run_dir} holds a {state} run with other settings ({shown}); finalize never overwrites "
                             "it: rerun with the settings it was made with, or remove that directory")


def _test_metrics(run_dir: Path, device: str | None) -> dict[str, Any]:
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.rundir import RunDir

    paths = RunDir(run_dir)
    if paths.metrics_are_fresh():
        stored = json.loads(paths.metrics.read_text())
        if stored.get("split") == "test":
            return stored
    return evaluate_run(run_dir, split="test", plots=False, device=device)


def _hardware(run_dir: Path, model: str, particles: int, hw: HardwareSettings,
              log: Callable[[str], Any]) -> dict[str, Any]:
    """The ``fpga_*`` fields of a row: from ``RUN/fpga/fpga.json`` when it was made with these settings, else
    from a new :func:`~tagformer.export.fpga.pipeline.fpga_run`; or ``fpga_note`` saying why there are none."""
    if not hw.enabled:
        return {"fpga_note": "hardware path not asked for (--no-fpga)"}
    missing = extra_missing()
    if missing:
        return {"fpga_note": missing}
    name = model_name(model)
    if name not in supported_models():
        return {"fpga_note": f"model {name!r} has no FPGA variant (models with one: {', '.join(supported_models())})"}
    out = run_dir / "fpga"
    wanted = {"bits": hw.bits, "finetune_epochs": hw.finetune_epochs, "particles": particles,
              "max_train_jets": hw.max_train_jets, "max_test_jets": hw.max_test_jets}
    report = _stored_report(out, wanted)
    if report is None:
        from tagformer.export.fpga.pipeline import fpga_run

        try:
            report = fpga_run(run_dir, out, bits=hw.bits, particles=(particles,), finetune_epochs=hw.finetune_epochs,
                              max_train_jets=hw.max_train_jets, max_test_jets=hw.max_test_jets, log=log)
        except (TagformerError, RuntimeError, ValueError) as exc:  # e.g. a variant refusing the run's options
            return {"fpga_note": f"hardware path failed: {exc}"}
        atomic_write_text(out / FPGA_SETTINGS, json.dumps(wanted, indent=2))
    r = report["rows"][0]
    ns = latency_ns(r["adder_stages"], hw.clock_mhz, hw.stages_per_cycle)
    return {"fpga_bits": hw.bits, "fpga_finetune_epochs": hw.finetune_epochs, "fpga_float_acc": r["accuracy_float"],
            "fpga_fixed_acc": r["accuracy_quantised"], "fpga_emulated_acc": r["accuracy_emulated"],
            "fpga_mismatches": r["emulation_mismatched_jets"], "fpga_lut": r["luts"], "fpga_latency_ns": ns,
            "fpga_fits_100ns": ns <= BUDGET_NS, "fpga_trace_s": r["trace_seconds"], "fpga_note": ""}


def _stored_report(out: Path, wanted: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        settings = json.loads((out / FPGA_SETTINGS).read_text())
        report = json.loads((out / "fpga.json").read_text())
    except (OSError, ValueError):
        return None
    return report if settings == dict(wanted) and report.get("rows") else None


def finalize(out_dir: str | Path, *, storage: str | None = None, study_name: str | None = None,
             top: int | None = None, trials: Sequence[int] | None = None, epochs: int = 30,
             overrides: Sequence[str] = (), fpga: bool = True, fpga_bits: int | None = None,
             finetune_epochs: int = 3, max_train_jets: int | None = 20000, max_test_jets: int | None = 2000,
             device: str | None = None, log: Callable[[str], Any] = print) -> dict[str, Any]:
    """Run the local stage on the search in ``out_dir`` (see the module docstring); rerun to resume.

    Parameters
    ----------
    out_dir : the search's output directory (its study storage is ``out_dir/study.db`` unless ``storage``).
    top, trials : the first ``top`` Pareto trials, or these trial numbers (default: every Pareto trial).
    epochs : ``trainer.max_epochs`` of the longer training; ``overrides``: further ``key=value`` settings.
    fpga : run the hardware path where it applies; ``fpga_bits``: its width (default: the space's
        ``fpga.bits``, else 8); ``finetune_epochs``, ``max_train_jets``, ``max_test_jets``: as ``tagformer fpga``.

    Returns ``{"csv", "table", "rows"}``.
    """
    from tagformer.export.fpga.fixed import MAX_BITS, MIN_BITS
    from tagformer.search.report import collect
    from tagformer.search.run import open_existing
    from tagformer.search.runs import train_or_resume

    res = collect(open_existing(out_dir, storage, study_name))
    space_fpga = res.space.get("fpga") or {}
    bits = fpga_bits if fpga_bits is not None else int(space_fpga.get("bits", 8))
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(f"--fpga-bits must be an integer in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    if finetune_epochs < 0:
        raise ConfigError(f"--finetune-epochs must be >= 0, got {finetune_epochs}")
    hw = HardwareSettings(fpga, bits, finetune_epochs, max_train_jets, max_test_jets,
                          float(space_fpga.get("clock_mhz", CLOCK_MHZ)),
                          int(space_fpga.get("stages_per_cycle", STAGES_PER_CYCLE)))
    chosen = choose(res, top, trials)
    plans = [(row, final_dir(out_dir, row["trial"]), final_config(row, epochs, overrides)) for row in chosen]
    for _row, run_dir, cfg in plans:  # refuse a conflicting run before anything trains
        check_not_other(run_dir, cfg)
    rows = []
    for row, run_dir, cfg in plans:
        rows.append(_one(row, run_dir, cfg, res.objectives, hw, device, train_or_resume, log))
    folder = Path(out_dir) / FINAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return {"csv": write_csv(rows, res.objectives, folder / CSV_NAME),
            "table": write_table(rows, res, hw, epochs, folder / TABLE_NAME), "rows": rows}


def _one(row: Mapping[str, Any], run_dir: Path, cfg: RunConfig, objectives: Sequence[str], hw: HardwareSettings,
         device: str | None, train_or_resume: Callable[..., dict[str, Any]],
         log: Callable[[str], Any]) -> dict[str, Any]:
    """Train, evaluate and take one trial through the hardware path; its row."""
    from tagformer.rundir import RunDir

    out: dict[str, Any] = {"trial": row["trial"], "family": row["family"], "model": row["model"],
                           "label": row["label"], "params": row["params"], "run_dir": str(run_dir), "error": "",
                           **{f"search_{o}": row["metrics"].get(o) for o in objectives}}
    out["trained_now"] = not RunDir(run_dir).is_finished()
    log(f"trial {row['trial']} {row['label']}: {'training' if out['trained_now'] else 'already trained'} "
        f"({cfg.trainer.max_epochs} epochs max) in {run_dir}")
    try:
        summary = train_or_resume(cfg, run_dir)
    except CandidateError as exc:
        out["error"] = str(exc)
        log(f"trial {row['trial']}: {exc}")
        return out
    metrics = _test_metrics(run_dir, device)
    r08 = (metrics.get("rejection_average") or {}).get("0.8")
    out.update(epochs=summary.get("epochs_completed"), best_epoch=summary.get("best_epoch"),
               val_acc=(summary.get("val") or {}).get("val_acc"), test_acc=metrics.get("accuracy"),
               test_r08=r08, test_jets=metrics.get("num_jets"))
    out.update(_hardware(run_dir, cfg.model.name, cfg.data.num_particles, hw, log))
    fpga = (f", {out['fpga_lut']:.0f} LUT, {out['fpga_latency_ns']:.0f} ns, fixed-point acc "
            f"{out['fpga_fixed_acc']:.4f}" if "fpga_lut" in out else f"; no hardware numbers: {out['fpga_note']}")
    log(f"trial {row['trial']}: test acc {out['test_acc']:.4f}{fpga}")
    return out


# -- files -----------------------------------------------------------------------------------------------------
COLUMNS = ("epochs", "best_epoch", "val_acc", "test_acc", "test_r08", "test_jets", "fpga_bits", "fpga_finetune_epochs",
           "fpga_float_acc", "fpga_fixed_acc", "fpga_emulated_acc", "fpga_mismatches", "fpga_lut", "fpga_latency_ns",
           "fpga_fits_100ns", "fpga_trace_s", "fpga_note", "trained_now", "run_dir", "error")


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def write_csv(rows: Sequence[Mapping[str, Any]], objectives: Sequence[str], path: Path) -> Path:
    """``final.csv``: trial, family, model, parameters, the search-budget objectives, then :data:`COLUMNS`."""
    head = ["trial", "family", "model", "parameters", *(f"search_{o}" for o in objectives), *COLUMNS]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(head)
    for r in rows:
        writer.writerow([r["trial"], r["family"], r["model"], json.dumps(r["params"], sort_keys=True),
                         *(_cell(r.get(f"search_{o}")) for o in objectives), *(_cell(r.get(c)) for c in COLUMNS)])
    return atomic_write_text(path, buf.getvalue())


def _num(value: Any, digits: int = 4) -> str:
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def write_table(rows: Sequence[Mapping[str, Any]], res: SearchResults, hw: HardwareSettings, epochs: int,
                path: Path) -> Path:
    """``final.md``: the finalized trials as a table, and the notes of rows without hardware numbers."""
    objs = res.objectives
    lines = [f"# Search {res.name}: finalized candidates", "",
             f"Each trial's run config trained again with at most {epochs} epochs (early stopping as configured), "
             "evaluated on the test split" + (f"; hardware path at {hw.bits} bits with {hw.finetune_epochs} "
                                              f"epoch(s) of quantisation-aware fine-tuning, latency at "
                                              f"{hw.clock_mhz:g} MHz, {hw.stages_per_cycle} adder stages per cycle"
                                              if hw.enabled else "; hardware path not run") + ". "
             "The search columns are at the search budget (validation split).", "",
             "| trial | family | " + " | ".join(f"search {o}" for o in objs) + " | epochs | val acc | test acc | "
             "test R0.8 | fixed-point acc (test) | emulated acc | mismatches | LUT (est.) | latency ns | fits 100 ns |",
             "|" + "---|" * (12 + len(objs))]
    keys = ("epochs", "val_acc", "test_acc", "test_r08", "fpga_fixed_acc", "fpga_emulated_acc", "fpga_mismatches",
            "fpga_lut", "fpga_latency_ns", "fpga_fits_100ns")
    for r in rows:
        cells = [str(r["trial"]), r["family"], *(_num(r.get(f"search_{o}")) for o in objs),
                 *(_num(r.get(k)) for k in keys)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- trial {r['trial']}: {r['error'] or r.get('fpga_note')}" for r in rows
             if r["error"] or r.get("fpga_note")]
    if notes:
        lines += ["", "Rows without some numbers:", "", *notes]
    params = [f"- trial {r['trial']}: {r['label']} (`{r['run_dir']}`)" for r in rows]
    lines += ["", "Candidates:", "", *params, ""]
    return atomic_write_text(path, "\n".join(lines))
