"""Compare evaluated runs: one row per model configuration and evaluation set, mean +- std over seeds, with
cost columns.

Runs are grouped by configuration (preset + overrides + N) *and* by what they were evaluated on (split and
dataset fingerprint, :mod:`tagformer.eval.provenance`): numbers from different splits or datasets are never
averaged into one row, the table's last column names the evaluation set, and a mixture is reported."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.atomic import first_line
from tagformer.bench.targets import configuration_name
from tagformer.errors import DataError, TagformerError
from tagformer.eval.costs import run_flops
from tagformer.eval.provenance import evaluation_label
from tagformer.rundir import SUMMARY, RunDir, read_json


def _load(run: Path) -> dict[str, Any]:
    paths = RunDir(run)
    if not run.is_dir():
        raise TagformerError(f"run directory {run} does not exist")
    if not paths.is_finished():
        raise TagformerError(f"run {run} has no {SUMMARY} (training did not finish)")
    if not paths.is_evaluated():
        raise TagformerError(f"run {run} has not been evaluated: run `tagformer evaluate {run}` first")
    summary = read_json(paths.summary, "training summary")
    metrics = read_json(paths.metrics, "evaluation metrics")
    if not isinstance(metrics.get("accuracy"), (int, float)) and not metrics.get("regression"):
        raise DataError(f"{paths.metrics} holds no evaluation (no accuracy): rerun `tagformer evaluate {run}`")
    return {"summary": summary, "metrics": metrics, "run": run, "mtime": paths.summary.stat().st_mtime,
            "evaluated_on": evaluation_label(metrics)}


def _name(summary: dict[str, Any]) -> str:
    """The configuration's row name: preset and overrides, plus the heads when the run trained other tasks than
    classification alone (``phat_small [classification+regression]``), so such runs form their own rows."""
    name = configuration_name(str(summary.get("preset") or summary.get("model")), summary.get("model_overrides"))
    tasks = list(summary.get("tasks") or ["classification"])
    return name if tasks == ["classification"] else f"{name} [{'+'.join(tasks)}]"


def _primary_rejection(metrics: dict[str, Any]) -> tuple[str, float | None]:
    """(column label, value): the average over the convention's signals at its first efficiency."""
    average = metrics.get("rejection_average") or {}
    if average:
        eff, value = next(iter(average.items()))
        return f"R{eff}_avg", value
    rej = metrics.get("rejection") or {}
    if not rej:
        return "R_avg", None
    eff = next(iter(next(iter(rej.values()))))
    vals = [v.get(eff) for v in rej.values()]
    return f"R{eff}_avg", (float(np.mean(vals)) if all(v is not None for v in vals) else None)


#: Regression columns (row key, key of a regression report's ``summary``), present only when a run has them.
REGRESSION_COLUMNS = (("mass_response", "response"), ("mass_resolution", "resolution"),
                      ("sd_response", "sd_response"), ("sd_resolution", "sd_resolution"),
                      ("mass_jsd", "jsd"), ("sd_jsd", "sd_jsd"))


def _regression_summary(metrics: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(head, summary) of the run's first regression head; (None, {}) for a classification-only run."""
    reports = metrics.get("regression") or {}
    if not reports:
        return None, {}
    head, report = next(iter(reports.items()))
    return head, dict(report.get("summary") or {})


def _regression_columns(row: dict[str, Any], members: list[dict[str, Any]]) -> None:
    """Add the regression columns (mean and std over seeds) to ``row`` when its runs have a regression head."""
    heads = [_regression_summary(m["metrics"]) for m in members]
    if all(head is None for head, _ in heads):
        return
    row["regression_head"] = next(head for head, _ in heads if head is not None)
    for column, key in REGRESSION_COLUMNS:
        row[column], row[f"{column}_std"] = _stats([s.get(key) for _, s in heads])


def _stats(values: list[float | None]) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None, None
    return float(np.mean(vals)), (float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)


def compare_runs(runs: list[str | Path], warn: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """One row per configuration (preset + overrides + N): mean/std over seeds of the test metrics.

    Parameters and FLOPs per jet come from the most recently trained run of each group: when seeds of one
    configuration disagree (a run trained before a change to the model's implementation), ``warn`` is
    told which values differ. FLOPs follow the one convention (:func:`tagformer.eval.costs.run_flops`:
    recounted for runs whose summary predates it), the figure ``tagformer profile`` reports.
    """
    if not runs:
        raise TagformerError("no runs given to compare")
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for run in runs:
        res = _load(Path(run))
        key = (_name(res["summary"]), int(res["summary"].get("num_particles") or 0), res["evaluated_on"])
        groups.setdefault(key, []).append(res)
    sets = sorted({key[2] for key in groups})
    if warn is not None and len(sets) > 1:
        warn(f"the runs were evaluated on different data ({'; '.join(sets)}): rows are kept apart by what they "
             "were evaluated on; compare numbers only between rows with the same 'evaluated on'")
    rows = []
    for (name, n_part, evaluated), members in groups.items():
        newest = max(members, key=lambda m: m["mtime"])
        summary = dict(newest["summary"])
        cost = run_flops(newest["run"], summary)
        if warn is not None and cost.note:
            warn(cost.note)
        summary["flops_per_jet"] = cost.flops_per_jet
        for cost_key in ("params", "flops_per_jet"):
            convention = newest["summary"].get("flops_convention")
            values = {m["run"].name: m["summary"].get(cost_key) for m in members
                      if cost_key == "params" or m["summary"].get("flops_convention") == convention}
            if warn is not None and len(set(values.values())) > 1:
                warn(f"{name}: {cost_key} differs between runs "
                     f"({', '.join(f'{k} {v}' for k, v in values.items())}); reporting the newest, "
                     f"{summary.get(cost_key)}")
        row: dict[str, Any] = {"name": name, "model": summary.get("model"), "num_particles": n_part,
                               "seeds": len(members), "params": summary.get("params"),
                               "flops_per_jet": summary.get("flops_per_jet")}
        for key in ("accuracy", "auc_macro"):
            row[key], row[f"{key}_std"] = _stats([m["metrics"].get(key) for m in members])
        label, _ = _primary_rejection(members[0]["metrics"])
        row["rejection_label"] = label
        row["rejection"], row["rejection_std"] = _stats([_primary_rejection(m["metrics"])[1] for m in members])
        for signal, by_eff in (members[0]["metrics"].get("rejection") or {}).items():
            eff = next(iter(by_eff))
            row[f"R{eff}_{signal}"], _ = _stats([m["metrics"]["rejection"].get(signal, {}).get(eff) for m in members])
        _regression_columns(row, members)
        row["epochs"], _ = _stats([m["summary"].get("epochs_completed") for m in members])
        row["split"] = members[0]["metrics"].get("split")
        row["evaluated_on"] = evaluated
        rows.append(row)
    rows.sort(key=lambda r: (r["flops_per_jet"] or 0.0, r["name"], r["evaluated_on"]))
    return rows


def _fmt(value: Any, std: Any = None, digits: int = 4) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        text = f"{value:.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}f}".rstrip("0").rstrip(".")
        if std is not None:
            text += f" ± {std:.{digits}f}".rstrip("0").rstrip(".") if std else " ± 0"
        return text
    return str(value)


#: Markdown headers of the regression columns (class-averaged response median and resolution of the regressed
#: and the reco soft-drop mass; background-sculpting JSD averaged over the signal cuts).
REGRESSION_HEADERS = (("mass_response", "mass response"), ("mass_resolution", "mass resolution"),
                      ("sd_resolution", "SD resolution"), ("mass_jsd", "JSD (mass)"), ("sd_jsd", "JSD (SD)"))


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """A markdown table (metrics as mean ± std over seeds; the last column says what they were measured on).

    When any row has a regression head, the regression columns (:data:`REGRESSION_HEADERS`) come before the
    last column; a classification-only table is unchanged."""
    label = rows[0]["rejection_label"] if rows else "R_avg"
    regression = any("regression_head" in r for r in rows)
    head = ["model", "N", "seeds", "params", "FLOPs/jet", "accuracy", "AUC (macro)", label]
    head += [h for _, h in REGRESSION_HEADERS] if regression else []
    head.append("evaluated on")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        flops = f"{r['flops_per_jet'] / 1e6:.3f}M" if r.get("flops_per_jet") else "-"
        cells = [r["name"], str(r["num_particles"]), str(r["seeds"]), f"{r['params']:,}" if r["params"] else "-",
                 flops, _fmt(r["accuracy"], r["accuracy_std"]), _fmt(r["auc_macro"], r["auc_macro_std"]),
                 _fmt(r["rejection"], r["rejection_std"], 2)]
        if regression:
            cells += [_fmt(r.get(key), r.get(f"{key}_std"), 3) for key, _ in REGRESSION_HEADERS]
        cells.append(str(r.get("evaluated_on") or "?"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: First columns of every CSV :func:`to_csv` writes (how ``compare --csv`` recognises its own earlier output).
CSV_HEAD = "name,model,num_particles,seeds"


def is_own_csv(path: Path) -> bool:
    """``path`` holds a table :func:`to_csv` wrote."""
    return first_line(path).startswith(CSV_HEAD)


def to_csv(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


PROFILE_REQUIRED = ("model", "preset", "particles", "batch", "latency_ms_p50", "throughput_jets_s")


def read_profile(path: str | Path) -> list[dict[str, str]]:
    """Rows of a ``tagformer profile`` CSV (checks the columns compare needs)."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"cannot read profile CSV {path}: {exc.strerror or exc}") from exc
    missing = [c for c in PROFILE_REQUIRED if rows and c not in rows[0]]
    if not rows or missing:
        raise DataError(f"profile CSV {path} lacks columns {missing or list(PROFILE_REQUIRED)}")
    return rows


def join_profile(rows: list[dict[str, Any]], profile: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Add latency (smallest batch) and throughput (largest batch) at the run's N from the profile rows.

    A row matches profile rows of the same configuration name (``preset`` or ``preset(key=value,...)``,
    as ``tagformer profile --set`` labels them) or, for a default preset, of its model name.
    """
    out = []
    for r in rows:
        key = r["name"]
        hits = [p for p in profile if key in (p.get("preset"), p.get("model"))]
        same_n = [p for p in hits if str(p.get("particles")) == str(r["num_particles"])]
        hits = same_n or hits
        r = dict(r)
        if hits:
            by_batch = sorted(hits, key=lambda p: float(p["batch"]))
            r["latency_ms_p50"] = float(by_batch[0]["latency_ms_p50"])
            r["latency_ms_p99"] = float(by_batch[0].get("latency_ms_p99") or "nan")
            r["throughput_jets_s"] = float(by_batch[-1]["throughput_jets_s"])
        out.append(r)
    return out


#: (x, y, x label, y label) of every trade-off plot; the file is ``<y>_vs_<x>.png``.
PLOT_SPECS = (
    ("flops_per_jet", "accuracy", "FLOPs per jet (2 x MACs)", "accuracy"),
    ("flops_per_jet", "rejection", "FLOPs per jet (2 x MACs)", "rejection {label}"),
    ("params", "accuracy", "trainable parameters", "accuracy"),
    ("params", "rejection", "trainable parameters", "rejection {label}"),
    ("latency_ms_p50", "accuracy", "latency per jet, batch 1, p50 [ms]", "accuracy"),
    ("throughput_jets_s", "accuracy", "throughput [jets/s]", "accuracy"),
)


def plot_paths(out_dir: str | Path) -> list[Path]:
    """Every file :func:`write_plots` may write into ``out_dir``."""
    return [Path(out_dir) / f"{y}_vs_{x}.png" for x, y, _, _ in PLOT_SPECS]


def write_plots(rows: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Accuracy and rejection against FLOPs and parameters (and latency/throughput when joined)."""
    from tagformer.eval.plots import plot_tradeoff

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = rows[0]["rejection_label"] if rows else "R"
    written = []
    for x, y, xl, yl in PLOT_SPECS:
        yl = yl.format(label=label)
        path = plot_tradeoff(rows, x, y, out / f"{y}_vs_{x}.png", xl, yl, yerr=f"{y}_std",
                             x_is_cost=x != "throughput_jets_s")
        if path is not None:
            written.append(path)
    return written
