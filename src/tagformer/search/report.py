"""The report of a search, drawn from the study storage alone (so ``--report`` can redraw it at any time).

Files written into the output directory:

- ``search.csv``: one row per trial (surplus trials left out): trial, state, family, model, every recorded
  metric, feasible, trained, pareto, parameters (JSON), run directory (relative to the report when below
  it), origin (first attempt), duplicate_of, pruned_at, error, epochs, wall time, worker, and with an fpga
  stage the circuit's adder stages and da4ml tracing time (``fpga_adder_stages``, ``fpga_trace_s``);
- ``pareto.md``: the Pareto front as a table (complete, feasible, trained trials not dominated in all
  objectives), how fpga metrics were measured (when recorded), the reference presets trained at the same
  budget and which trials dominate each, by how much;
- ``pareto_<y>_vs_<x>.png``: 2-D views (:mod:`.plots`) of every pair of objectives, and of the first
  objective against FLOPs when FLOPs is not an objective;
- ``pareto/trial-NNNN.yaml``: each Pareto configuration as a run config that ``tagformer train --config``
  trains directly (same budget; raise ``trainer.max_epochs`` on the command line for a longer run).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tagformer.atomic import atomic_write_text
from tagformer.errors import TagformerError
from tagformer.search.objectives import METRICS
from tagformer.search.pareto import dominating, front
from tagformer.search.plots import plot_front
from tagformer.search.references import stored_references
from tagformer.search.study import DATA_ATTR, ERROR_ATTR, RETRY_ATTR, SPACE_ATTR, SURPLUS_ATTR, WORKER_ATTR

if TYPE_CHECKING:
    import optuna

CSV_NAME, TABLE_NAME, YAML_DIR = "search.csv", "pareto.md", "pareto"


@dataclass
class SearchResults:
    """Everything the report needs, read from the study.

    Attributes
    ----------
    name : the study name. space : the stored space description. data : the dataset.
    rows : one dict per (non-surplus) trial. references : preset -> stored result.
    started, finished : first trial start and last trial end (None when no trial ran).
    """

    name: str
    space: dict[str, Any]
    data: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def objectives(self) -> list[str]:
        return list(self.space["objectives"])

    @property
    def maximize(self) -> list[bool]:
        return [METRICS[o].maximize for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        names = list(self.objectives)
        for r in [*self.rows, *self.references.values()]:
            names += [k for k in (r.get("metrics") or {}) if k not in names]
        return names

    def pareto_rows(self) -> list[dict[str, Any]]:
        return sorted((r for r in self.rows if r["pareto"]), key=lambda r: _sort_key(r, self))


def _sort_key(row: Mapping[str, Any], res: SearchResults) -> float:
    value = row["metrics"][res.objectives[0]]
    return -value if res.maximize[0] else value


def _row(t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    a = t.user_attrs
    worker = a.get(WORKER_ATTR) or {}
    return {
        "trial": t.number, "state": t.state.name.lower(), "family": a.get("family", ""), "model": a.get("model", ""),
        "label": a.get("label", ""), "params": a.get("params") or {}, "metrics": dict(a.get("metrics") or {}),
        "feasible": a.get("feasible"), "trained": bool(a.get("trained")), "pareto": False,
        "run_dir": a.get("run_dir", ""), "origin": a.get("origin", t.number), "retry_of": a.get(RETRY_ATTR),
        "duplicate_of": a.get("duplicate_of"), "error": a.get(ERROR_ATTR, ""), "epochs": a.get("epochs"),
        "wall_time_s": a.get("wall_time_s"), "pruned_at": a.get("pruned_at"),
        "worker": f"{worker.get('host', '')}:{worker.get('pid', '')}" if worker else "",
        "run_config": a.get("run_config"), "fpga": a.get("fpga") or {},
    }


def collect(study: optuna.Study) -> SearchResults:
    """Read the trials, references and space of ``study``; marks the Pareto trials."""
    attrs = study.user_attrs
    if SPACE_ATTR not in attrs:
        raise TagformerError(f"study {study.study_name!r} was not created by tagformer search (no space stored)")
    res = SearchResults(study.study_name, attrs[SPACE_ATTR], attrs.get(DATA_ATTR, ""))
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS_ATTR)]
    res.rows = [_row(t) for t in trials]
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    res.started, res.finished = (min(starts) if starts else None), (max(ends) if ends else None)
    res.references = stored_references(study)
    candidates = [r for r in res.rows if r["state"] == "complete" and r["feasible"] and r["trained"]
                  and r["duplicate_of"] is None and all(o in r["metrics"] for o in res.objectives)]
    points = [[r["metrics"][o] for o in res.objectives] for r in candidates]
    for i in front(points, res.maximize):
        candidates[i]["pareto"] = True
    return res


# -- search.csv ----------------------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def _relative(run_dir: str, base: Path) -> str:
    """``run_dir`` relative to ``base`` when it lies below it (the CSV stays valid when the folder moves)."""
    try:
        return str(Path(run_dir).resolve().relative_to(base.resolve()))
    except ValueError:
        return run_dir


#: Columns of ``search.csv`` from the fpga stage's record (present when some trial has one).
FPGA_COLUMNS = {"fpga_adder_stages": "adder_stages", "fpga_trace_s": "trace_seconds"}


def write_csv(res: SearchResults, path: Path) -> Path:
    metrics = res.metric_names
    fpga = list(FPGA_COLUMNS) if any(r["fpga"] for r in res.rows) else []
    head = ["trial", "state", "family", "model", *metrics, "feasible", "trained", "pareto", "parameters", "run_dir",
            "origin", "duplicate_of", "pruned_at", "error", "epochs", "wall_time_s", "worker", *fpga]
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow(head)
    for r in res.rows:
        m = r["metrics"]
        out.writerow([r["trial"], r["state"], r["family"], r["model"], *(_cell(m.get(k)) for k in metrics),
                      _cell(r["feasible"]), r["trained"], r["pareto"], json.dumps(r["params"], sort_keys=True),
                      _relative(r["run_dir"], path.parent), r["origin"], _cell(r["duplicate_of"]),
                      _cell(r["pruned_at"]), r["error"], _cell(r["epochs"]), _cell(r["wall_time_s"]), r["worker"],
                      *(_cell(r["fpga"].get(FPGA_COLUMNS[c])) for c in fpga)])
    return atomic_write_text(path, buf.getvalue())


# -- pareto.md -----------------------------------------------------------------------------------------------
def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float) and abs(value) >= 1000:  # counts and rates: whole numbers read best
        return f"{value:,.0f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in params.items())


def dominance_lines(res: SearchResults) -> list[str]:
    """For each reference: the trials that dominate it and the best gain in each objective among them."""
    pareto = [r for r in res.rows if r["pareto"]]
    points = [[r["metrics"][o] for o in res.objectives] for r in pareto]
    lines = []
    for name, ref in res.references.items():
        m = ref.get("metrics") or {}
        if not all(o in m for o in res.objectives):
            lines.append(f"- **{name}**: not measured ({ref.get('error', 'missing objectives')})")
            continue
        target = [m[o] for o in res.objectives]
        idx = dominating(target, points, res.maximize)
        if not idx:
            lines.append(f"- **{name}**: no Pareto trial dominates it")
            continue
        gains = []
        for k, o in enumerate(res.objectives):
            vals = [(points[i][k], pareto[i]["trial"]) for i in idx]
            best, trial = (max if res.maximize[k] else min)(vals)
            if res.maximize[k]:
                gains.append(f"{o} {best - target[k]:+.4g} (trial {trial})")
            else:
                ratio = best / target[k] if target[k] else math.nan
                gains.append(f"{o} x{ratio:.3g} (trial {trial})")
        who = ", ".join(str(pareto[i]["trial"]) for i in idx)
        lines.append(f"- **{name}**: dominated by trial(s) {who}; best among them: {'; '.join(gains)}")
    return lines


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def fpga_lines(res: SearchResults) -> list[str]:
    """How the fpga metrics were measured and how long the tracing took (nothing without an fpga stage)."""
    settings = res.space.get("fpga")
    if not settings:
        return []
    traced = [float(r["fpga"]["trace_seconds"]) for r in res.rows
              if r["fpga"].get("trace_seconds") is not None and r["duplicate_of"] is None]
    took = (f" da4ml tracing took {_seconds(sum(traced))} over {len(traced)} trials (at most "
            f"{_seconds(max(traced))})." if traced else "")
    return [f"FPGA metrics: the trained weights as a uniform {settings['bits']}-bit fixed-point circuit, calibrated on "
            f"at most {settings['calibration_jets']} training jets, not fine-tuned; da4ml estimates, latency "
            f"pipelined every {settings['stages_per_cycle']} adder stages at {settings['clock_mhz']:g} MHz.{took}", ""]


def write_table(res: SearchResults, path: Path, yamls: Mapping[int, Path]) -> Path:
    objs = res.objectives
    extra = [k for k in res.metric_names if k not in objs]
    states = [r["state"] for r in res.rows]
    infeasible = sum(1 for r in res.rows if r["feasible"] is False)
    span = ""
    if res.started and res.finished:
        span = f" Trials ran from {res.started:%Y-%m-%d %H:%M} to {res.finished:%Y-%m-%d %H:%M} " \
               f"({(res.finished - res.started).total_seconds() / 3600:.2f} h wall)."
    trained_s = sum(float(r["wall_time_s"] or 0) for r in res.rows if r["duplicate_of"] is None)
    lines = [
        f"# Search {res.name}: Pareto front", "",
        f"{len(res.rows)} trials: {states.count('complete')} complete, {states.count('pruned')} pruned, "
        f"{states.count('fail')} failed, {states.count('running') + states.count('waiting')} running or queued; "
        f"{infeasible} infeasible. Training time summed over trials {trained_s / 60:.1f} min.{span}", "",
        f"Data: `{res.data}`. Objectives: {', '.join(f'{o} ({METRICS[o].direction})' for o in objs)}. "
        f"Constraints: {', '.join(res.space.get('constraints') or []) or 'none'}. "
        f"Budget (run fragment): `{json.dumps(res.space.get('run') or {}, sort_keys=True)}`.", "",
        *fpga_lines(res),
        "| trial | family | " + " | ".join(objs + extra) + " | parameters | config |",
        "|" + "---|" * (4 + len(objs) + len(extra)),
    ]
    for r in res.pareto_rows():
        cfg = yamls.get(r["trial"])
        cells = [str(r["trial"]), r["family"], *(_num(r["metrics"].get(k)) for k in objs + extra),
                 _params(r["params"]), f"`{cfg.relative_to(path.parent)}`" if cfg else ""]
        lines.append("| " + " | ".join(cells) + " |")
    if res.references:
        lines += ["", "## Presets trained at the same budget", "",
                  "| preset | " + " | ".join(objs + extra) + " | feasible |",
                  "|" + "---|" * (2 + len(objs) + len(extra))]
        for name, ref in res.references.items():
            m = ref.get("metrics") or {}
            lines.append("| " + " | ".join([name, *(_num(m.get(k)) for k in objs + extra),
                                             _num(ref.get("feasible"))]) + " |")
        lines += ["", "## Do search results dominate the presets?", "", *dominance_lines(res)]
    return atomic_write_text(path, "\n".join(lines) + "\n")


# -- YAMLs and plots ---------------------------------------------------------------------------------------
def write_yamls(res: SearchResults, folder: Path) -> dict[int, Path]:
    """One run config per Pareto trial (earlier ``trial-*.yaml`` files of this folder are replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("trial-*.yaml"):
        old.unlink()
    out = {}
    for r in res.pareto_rows():
        if not r["run_config"]:
            continue
        path = folder / f"trial-{r['trial']:04d}.yaml"
        values = ", ".join(f"{o} {_num(r['metrics'][o])}" for o in res.objectives)
        head = (f"# Pareto trial {r['trial']} of search {res.name}: {r['label']}\n# {values} (search budget)\n"
                f"# train it: tagformer train --config {path.name} [trainer.max_epochs=N]\n")
        atomic_write_text(path, head + yaml.safe_dump(r["run_config"], sort_keys=False))
        out[r["trial"]] = path
    return out


def plot_pairs(res: SearchResults) -> list[tuple[str, str]]:
    """(x, y) metric pairs to draw: every pair of objectives, and the first objective against FLOPs."""
    objs = res.objectives
    pairs = [(objs[j], objs[i]) for i in range(len(objs)) for j in range(i + 1, len(objs))]
    if "flops" not in objs and objs:
        pairs.append(("flops", objs[0]))
    return pairs


def write_plots(res: SearchResults, out_dir: Path) -> list[Path]:
    paths = []
    for x, y in plot_pairs(res):
        path = out_dir / f"pareto_{y}_vs_{x}.png"
        paths.append(plot_front(res.rows, res.references, x, y, maximize_x=METRICS[x].maximize,
                                maximize_y=METRICS[y].maximize, xlabel=METRICS[x].label, ylabel=METRICS[y].label,
                                path=path, title=f"search {res.name}: {len(res.rows)} trials"))
    return paths


def write_report(study: optuna.Study, out_dir: str | Path) -> dict[str, Any]:
    """Write every report file of ``study`` into ``out_dir``; returns their paths and the Pareto trials."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = collect(study)
    yamls = write_yamls(res, out / YAML_DIR)
    return {
        "csv": write_csv(res, out / CSV_NAME),
        "table": write_table(res, out / TABLE_NAME, yamls),
        "plots": write_plots(res, out),
        "yamls": list(yamls.values()),
        "pareto": [r["trial"] for r in res.pareto_rows()],
        "results": res,
    }
