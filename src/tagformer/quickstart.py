"""The end-to-end demo behind ``tagformer quickstart`` / ``make quickstart``.

Generates a small 5-class dataset if none exists, trains three contrasting trigger-size models for a fixed
number of epochs each on CPU, evaluates them and compares them. Every model is trained to the end of its
epochs unless a generous per-model time cap (a safety net for very slow machines) stops it first; the
output then says that the cap cut the model short. Idempotent: finished steps are reused, an interrupted
training run resumes from its last checkpoint. It drives data generation, training and
evaluation, so it sits above ``tagformer.train`` and ``tagformer.eval`` (neither imports it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagformer.atomic import atomic_write_json, atomic_write_text
from tagformer.errors import TagformerError
from tagformer.rundir import RunDir

#: One pick per group, the first registered name wins: a baseline, full attention, an efficient model.
CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("deepsets_tiny", "deepsets", "pointnet_tiny", "pointnet"),
    ("transformer_tiny", "transformer_small", "transformer"),
    ("phat_small", "phat", "salt_small", "salt", "linformer_small", "linformer"),
)


@dataclass
class QuickstartConfig:
    out: Path = Path("quickstart")
    data: Path | None = None  # default: <out>/jets_5class.h5 (generated when missing)
    jets_per_class: int = 3000
    num_particles: int = 64
    max_epochs: int = 20
    max_time_s: float = 900.0  # per model: a safety cap, reported when it stops a model early
    models: Sequence[str] | None = None
    seed: int = 0
    generate_workers: int = 2
    extra_overrides: list[str] = field(default_factory=list)


def pick_models(requested: Sequence[str] | None = None) -> list[str]:
    """The requested models (validated) or one registered model per :data:`CANDIDATES` group."""
    from tagformer.models.registry import list_models, list_presets, resolve

    if requested:
        for name in requested:
            resolve(name)
        return list(requested)
    known = set(list_models()) | set(list_presets())
    picks = []
    for group in CANDIDATES:
        found = next((n for n in group if n in known), None)
        if found and found not in picks:
            picks.append(found)
    if not picks:
        raise TagformerError("no model of the quickstart selection is registered")
    return picks


def ensure_data(cfg: QuickstartConfig, say: Callable[[str], None]) -> Path:
    """Return the dataset path, generating it with Pythia 8 + FastJet if it does not exist."""
    path = cfg.data or cfg.out / "jets_5class.h5"
    if path.exists():
        say(f"[quickstart] using existing dataset {path}")
        return path
    if cfg.data is not None:
        raise TagformerError(f"dataset {path} does not exist")
    from tagformer.data.generate import generate, make_config

    say(f"[quickstart] generating {cfg.jets_per_class} jets per class (g, q, W, Z, t) into {path} ...")
    path.parent.mkdir(parents=True, exist_ok=True)
    gen = make_config(output=path, jets_per_class=cfg.jets_per_class, seed=cfg.seed + 1,
                      workers=cfg.generate_workers, n_constituents=max(cfg.num_particles, 64),
                      command="tagformer quickstart")
    return Path(generate(gen, show_progress=True))


def cut_short(paths: RunDir, max_epochs: int) -> str | None:
    """A sentence when the time cap stopped the run before ``max_epochs`` (early stopping is not a cut)."""
    from tagformer.rundir import read_json

    if not paths.is_finished():
        return None
    summary = read_json(paths.summary, "training summary")
    done = int(summary.get("epochs_completed", max_epochs))
    if "stopped_by_time" in summary:
        if not summary["stopped_by_time"]:
            return None
    elif done >= max_epochs or summary.get("stopped_early"):  # a summary of an earlier version
        return None
    return (f"the time cap stopped it after {done} of {max_epochs} epochs ({summary.get('wall_time_s', 0):.0f} s); "
            "its accuracy is that of a model trained for less than planned (raise --minutes)")


def run_quickstart(cfg: QuickstartConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole demo; returns ``{"runs": [...], "table": markdown, "plots": [...]}``."""
    from tagformer.config import build_config
    from tagformer.eval.compare import compare_runs, to_csv, to_markdown, write_plots
    from tagformer.eval.evaluate import evaluate_run
    from tagformer.train.run import train

    cfg.out.mkdir(parents=True, exist_ok=True)
    data = ensure_data(cfg, say)
    models = pick_models(cfg.models)
    say(f"[quickstart] models: {', '.join(models)} ({cfg.max_epochs} epochs each; a model still training after "
        f"{cfg.max_time_s:.0f} s is stopped and reported)")
    runs = []
    for i, name in enumerate(models, 1):
        run_dir = cfg.out / "runs" / f"{name}-seed{cfg.seed}"
        paths = RunDir(run_dir)
        runs.append(run_dir)
        if paths.is_finished():
            say(f"[quickstart] ({i}/{len(models)}) {name}: already trained, reusing {run_dir}")
        else:
            resume = paths.is_run()
            say(f"[quickstart] ({i}/{len(models)}) {'resuming' if resume else 'training'} {name} -> {run_dir}")
            overrides = [f"trainer.max_epochs={cfg.max_epochs}", f"trainer.max_time_s={cfg.max_time_s}",
                         f"data.num_particles={cfg.num_particles}", f"seed={cfg.seed}", *cfg.extra_overrides]
            run_cfg = None if resume else build_config(model=name, data=str(data), overrides=overrides)
            summary = train(run_cfg, run_dir, resume=resume)
            say(f"[quickstart] {name}: best epoch {summary['best_epoch']}, "
                f"val_acc {summary['val'].get('val_acc', float('nan')):.4f}, {summary['wall_time_s']:.0f} s")
        note = cut_short(paths, cfg.max_epochs)
        if note:
            say(f"[quickstart] {name}: {note}")
        if not paths.metrics_are_fresh():
            m = evaluate_run(run_dir)
            chance = 1.0 / max(len(m.get("class_names", [])) or 5, 1)
            verdict = "learned" if m["accuracy"] >= 2 * chance else "barely above chance: train longer"
            say(f"[quickstart] {name}: test accuracy {m['accuracy']:.4f} (chance {chance:.2f}: {verdict}), "
                f"macro AUC {m['auc_macro']:.4f}")
    rows = compare_runs(runs)
    table = to_markdown(rows)
    atomic_write_text(cfg.out / "compare.md", table)
    atomic_write_text(cfg.out / "compare.csv", to_csv(rows))
    plots = write_plots(rows, cfg.out / "plots")
    atomic_write_json(cfg.out / "quickstart.json", {"data": str(data), "runs": [str(r) for r in runs]}, indent=None)
    return {"runs": runs, "table": table, "plots": plots}
