"""Turning a run config into measured numbers: cost metrics of the built model, then the training run.

Used by trials and by the reference presets alike, so both are measured the same way. The run directory
is a normal ``tagformer train`` run directory (:mod:`tagformer.rundir`) and is kept; a run directory left
by a killed attempt is resumed from its last checkpoint, a finished one is read back without training.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.errors import ConfigError, ModelError, TagformerError
from tagformer.rundir import RunDir
from tagformer.search.objectives import MeasureSettings, cost_metrics
from tagformer.search.study import CandidateError

if TYPE_CHECKING:
    from tagformer.config import RunConfig


def measure_costs(cfg: RunConfig, names: Sequence[str], measure: MeasureSettings, label: str) -> dict[str, float]:
    """Cost metrics of the model ``cfg`` builds for its dataset (no jets are read: the dataset's classes and
    features come from its format). CandidateError if the model cannot be built with these arguments."""
    from tagformer.data.datamodule import JetDataModule
    from tagformer.models.registry import create_model

    info = JetDataModule(cfg.data).info
    try:
        model = create_model(cfg.model.name, num_classes=info.num_classes, in_features=info.in_features,
                             num_particles=info.num_particles, **cfg.model.overrides)
    except ModelError as exc:
        raise CandidateError(f"cannot build {label}: {exc}") from exc
    return cost_metrics(model, names, in_features=info.in_features, num_particles=cfg.data.num_particles,
                        measure=measure)


def train_or_resume(cfg: RunConfig, run_dir: Path, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train ``cfg`` into ``run_dir`` (resumed if a killed attempt left it, read back if finished); the summary.

    ``callbacks`` go to the harness as ``extra_callbacks`` (only pass them when
    :func:`tagformer.search.pruning.harness_takes_callbacks`). A run directory holding a run of another
    configuration, or files that are not a run, is refused (TagformerError). A training failure of this
    candidate (no finite validation score, a config or model the harness refuses) is a CandidateError; any
    other error (data, output, resume) stops the search.
    """
    from tagformer.train.run import train

    paths = RunDir(run_dir)
    if paths.is_run():
        _check_same_run(paths, cfg)
        if paths.is_finished():
            return json.loads(paths.summary.read_text())
    else:
        _clear_unstarted(paths)
    resume = paths.is_run()
    extra = {"extra_callbacks": list(callbacks)} if callbacks else {}
    try:
        return train(None if resume else cfg, paths.root, resume=resume, **extra)
    except (ConfigError, ModelError) as exc:
        raise CandidateError(f"training refused: {exc}") from exc
    except TagformerError as exc:
        if type(exc) is TagformerError:  # e.g. no finite validation score (diverged)
            raise CandidateError(f"training failed: {exc}") from exc
        raise


def _clear_unstarted(paths: RunDir) -> None:
    """Remove what a killed attempt left before its run counted as one: the harness writes ``normaliser.json``,
    ``dataset.json`` and an empty ``checkpoints/`` before ``config.yaml``. Anything else is refused."""
    if not paths.root.exists():
        return
    start = {paths.normaliser, paths.dataset, paths.checkpoints}
    entries = list(paths.root.iterdir())
    foreign = [p for p in entries if p not in start or (p == paths.checkpoints and any(p.iterdir()))]
    if foreign:
        raise TagformerError(f"{paths.root} holds files but no tagformer run ({foreign[0].name}); use a fresh --out "
                             "directory")
    for p in entries:
        if p.is_dir():
            p.rmdir()
        else:
            p.unlink()


def _check_same_run(paths: RunDir, cfg: RunConfig) -> None:
    """TagformerError unless the run directory holds a run of ``cfg`` (e.g. the study database was replaced
    while the trial directories stayed: trial numbers would then point at other candidates' runs)."""
    from tagformer.config import load_config

    if load_config(paths.config).to_dict() != cfg.to_dict():
        raise TagformerError(f"{paths.root} holds a run of another configuration than this trial's (was the study "
                             "database replaced?); use a fresh --out directory")


def read_curve(run_dir: Path, monitor: str) -> dict[int, float]:
    """Epoch -> ``monitor`` value of a run (its ``metrics.csv``)."""
    path = RunDir(run_dir).metrics_csv
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        return {int(r["epoch"]): float(r[monitor]) for r in csv.DictReader(fh) if r.get(monitor) not in ("", None)}
