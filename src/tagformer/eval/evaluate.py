"""Evaluate a trained run on a split of its dataset (or on another file).

The model normalises its raw input features itself (its ``input_norm`` holds the statistics fitted on
the run's training split), so evaluation feeds the data pipeline's raw features straight in; runs saved
before the encoder/heads split get the same statistics from ``normaliser.json`` when they are loaded
(:func:`tagformer.rundir.load_run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.atomic import atomic_write_json, check_output_dir
from tagformer.errors import ConfigError, DataError
from tagformer.eval.metrics import compute_metrics, convention_for, roc_for
from tagformer.eval.provenance import describe_files
from tagformer.rundir import RunDir

SPLITS = ("train", "val", "test")
#: Split name recorded when ``--data`` replaced the dataset (every jet of that file).
ALL = "all"
#: Per-jet targets a regression evaluation reads when the data have them: the reconstructed soft-drop mass
#: (the baseline) and the jet pT (for the pT bins).
BASELINE_TARGET, PT_TARGET = "sdmass", "pt"


def predict(model: Any, loader: Any, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs (n, C) and labels (n,) of ``model`` over every batch of ``loader``."""
    import torch

    from tagformer.models.inference import prepare_for_inference

    model = prepare_for_inference(model.to(device))  # same function, fused CPU kernels where they apply
    probs, labels = [], []
    with torch.no_grad():
        for batch in loader:
            if batch.labels is None:
                raise DataError("the evaluation data has no labels")
            logits = model(batch.to(device)).float()
            probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
            labels.append(batch.labels.cpu().numpy())
    if not probs:
        raise DataError("the evaluation split holds no jets")
    return np.concatenate(probs), np.concatenate(labels)


@dataclass
class HeadPredictions:
    """What a multi-head evaluation collects: class probabilities of the classification head (None without
    one), labels, each regression head's prediction (n,) and the per-jet targets read (n,)."""

    labels: np.ndarray
    probs: np.ndarray | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)


def predict_heads(model: Any, loader: Any, classifier: str | None, regressors: Sequence[str],
                  required: Sequence[str], optional: Sequence[str] = (), device: str = "cpu") -> HeadPredictions:
    """One pass over ``loader`` through every head of ``model`` (a :class:`~tagformer.models.tagger.Tagger`).

    ``required`` targets must be in every batch (:class:`DataError` naming the available ones otherwise);
    ``optional`` ones are kept only if every batch has them.
    """
    import torch

    from tagformer.models.inference import prepare_for_inference

    model = prepare_for_inference(model.to(device))
    probs, labels = [], []
    outputs: dict[str, list[np.ndarray]] = {h: [] for h in regressors}
    targets: dict[str, list[np.ndarray]] = {n: [] for n in [*required, *optional]}
    with torch.no_grad():
        for batch in loader:
            if batch.labels is None:
                raise DataError("the evaluation data has no labels")
            have = batch.targets or {}
            missing = [n for n in required if n not in have]
            if missing:
                raise DataError(f"the evaluation data have no target {', '.join(map(repr, missing))} for the run's "
                                f"regression task; available targets: {', '.join(sorted(have)) or 'none'}")
            heads = model.forward_heads(batch.to(device))
            if classifier is not None:
                probs.append(torch.softmax(heads[classifier].float(), dim=-1).cpu().numpy())
            for h in regressors:
                outputs[h].append(heads[h].float().reshape(len(batch), -1)[:, 0].cpu().numpy())
            for n in list(targets):
                if n in have:
                    targets[n].append(have[n].double().reshape(len(batch), -1)[:, 0].cpu().numpy())
                else:
                    del targets[n]  # optional and absent: dropped for every batch
            labels.append(batch.labels.cpu().numpy())
    if not labels:
        raise DataError("the evaluation split holds no jets")
    return HeadPredictions(labels=np.concatenate(labels), probs=np.concatenate(probs) if probs else None,
                           outputs={h: np.concatenate(v) for h, v in outputs.items()},
                           targets={n: np.concatenate(v) for n, v in targets.items()})


def regression_metrics(pred: HeadPredictions, tasks: list[Any], class_names: list[str]) -> dict[str, Any]:
    """``{head: report}`` (:func:`tagformer.eval.regression.regression_report`) for the regression entries of
    the run's ``tasks`` list, with the soft-drop baseline and pT bins when the targets were read."""
    from tagformer.eval.regression import regression_report

    out = {}
    for task in tasks:
        if task.kind != "regression":
            continue
        out[task.head_name] = regression_report(
            pred.outputs[task.head_name], pred.targets[task.target_name], pred.labels, class_names,
            target=task.target_name, sdmass=pred.targets.get(BASELINE_TARGET), pt=pred.targets.get(PT_TARGET),
            probs=pred.probs)
    return out


def _datamodule(run: Any, data: str | None, split: str, targets: list[str] | None = None) -> tuple[Any, str]:
    """The data module serving the evaluation jets, and the split name to record (``all`` for ``data``);
    ``targets`` replaces the per-jet targets read (default: the run's)."""
    from tagformer.data.datamodule import JetDataModule

    cfg = run.data_config
    if targets is not None:
        cfg = cfg.model_copy(update={"targets": list(targets)})
    if data is not None:
        if not Path(data).exists():
            raise DataError(f"evaluation data {data} does not exist")
        # the whole file is the evaluation set
        cfg = cfg.model_copy(update={"path": str(data), "test_path": str(data), "val_path": str(data)})
    dm = JetDataModule(cfg, normaliser_state=run.normaliser_state)
    names = [str(c) for c in dm.info.class_names]
    if names != run.info.class_names:
        raise DataError(f"classes of {data or cfg.path} ({names}) differ from the run's ({run.info.class_names})")
    return dm, (ALL if data is not None else split)


def evaluated_on(dm: Any, split: str) -> dict[str, Any]:
    """What the evaluation read: split, how it was drawn, and the dataset's files with their fingerprint."""
    plan, c = dm.plan.splits, dm.config
    source = "test" if split == ALL else split
    files = plan.files.get(source) or plan.files["train"]
    carved = split != ALL and (source not in plan.files or (source == "train" and bool(plan.fractions)))
    definition = None
    if carved:
        definition = (f"carved by hash: data.seed {c.seed}, val_fraction {c.val_fraction}, "
                      f"test_fraction {c.test_fraction}" + (f", max_jets {c.max_jets}" if c.max_jets else ""))
    elif c.max_jets:
        definition = f"max_jets {c.max_jets}"
    path = c.test_path if split == ALL else ({"val": c.val_path, "test": c.test_path}.get(source) or c.path)
    return {"split": split, "split_definition": definition, "dataset": describe_files(files, path=str(path))}


def evaluate_run(run_dir: str | Path, data: str | None = None, split: str = "test", plots: bool = True,
                 device: str | None = None) -> dict[str, Any]:
    """Metrics of the run's best checkpoint on ``split`` (or on all of ``data``); writes ``RUN/metrics.json``.

    ``split`` is a split of the run's own dataset, drawn exactly as in training (same files, fractions
    and seed). ``data`` replaces the dataset: then every jet of that file is evaluated, whatever ``split``
    (recorded as split ``all``). ``metrics.json`` records what was evaluated under ``evaluated_on`` (split,
    how it was drawn, the dataset's path and content fingerprint: :mod:`tagformer.eval.provenance`). Also
    writes ``RUN/roc.png`` and ``RUN/confusion.png`` when ``plots``. Returns the metrics dict.

    A run with regression tasks is evaluated through every head in one pass: the classification metrics as
    above (none for a regression-only run), and under ``regression`` one
    :func:`~tagformer.eval.regression.regression_report` per regression head (response and resolution, the
    soft-drop baseline and pT bins when the data have ``sdmass`` and ``pt``, the background mass sculpting);
    its figures are ``RUN/<figure>_<head>.png`` (:mod:`tagformer.eval.regression_plots`).

    Raises
    ------
    TagformerError
        For a missing or broken run, unusable data, a device this machine lacks, or a run directory that
        cannot be written (checked before any jet is evaluated).
    """
    from tagformer.bench.device import resolve_device
    from tagformer.rundir import load_run

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    device = resolve_device(device)
    run = load_run(run_dir)
    paths = RunDir(run_dir)
    check_output_dir(paths.root, "run directory")
    tasks = list(getattr(run.config, "tasks", None) or [])
    regression = [t for t in tasks if t.kind == "regression"]
    if regression:
        dm, recorded, pred = _predict_regression_run(run, data, split, tasks, device)
        probs, labels = pred.probs, pred.labels
        if probs is not None:
            metrics = compute_metrics(probs, labels, run.info.class_names)
        else:  # regression only: no class probabilities
            metrics = {"num_jets": len(labels), "class_names": list(run.info.class_names),
                       "class_counts": [int(v) for v in np.bincount(labels, minlength=len(run.info.class_names))]}
        metrics["regression"] = regression_metrics(pred, tasks, run.info.class_names)
    else:
        dm, recorded = _datamodule(run, data, split)
        source = "test" if recorded == ALL else split
        dm.setup("fit" if source in ("train", "val") else "test")
        probs, labels = predict(run.model, getattr(dm, f"{source}_dataloader")(), device)
        metrics = compute_metrics(probs, labels, run.info.class_names)
    metrics.update({
        "run": str(run.run_dir),
        "split": recorded,
        "data": str(data) if data else run.data_config.path,
        "evaluated_on": evaluated_on(dm, recorded),
        "model": run.summary.get("model", run.config.model.name),
        "preset": run.summary.get("preset"),
        "seed": run.config.seed,
        "params": run.summary.get("params"),
        "flops_per_jet": run.summary.get("flops_per_jet"),
        "num_particles": run.info.num_particles,
        "best_epoch": run.best.get("epoch"),
    })
    atomic_write_json(paths.metrics, metrics)
    if plots:
        if probs is not None:
            write_plots(probs, labels, run.info.class_names, metrics, paths.root)
        if regression:
            _write_regression_plots(pred, regression, run.info.class_names, metrics, paths.root)
    return metrics


def available_targets(dm: Any, split: str) -> set[str]:
    """Names of the per-jet targets the data of ``split`` offer, from the first jet of its first file (empty
    when that cannot be read)."""
    from tagformer.data.formats import read_files

    files = dm.plan.splits.files.get(split) or dm.plan.splits.files["train"]
    try:
        return set(read_files([files[0]], dm.plan.format, 1).targets or {})
    except DataError:
        return set()


def _predict_regression_run(run: Any, data: str | None, split: str, tasks: list[Any], device: str
                            ) -> tuple[Any, str, HeadPredictions]:
    """Read the evaluation jets with the regression targets (plus ``sdmass`` and ``pt`` when the data have
    them) and run every head over them."""
    from tagformer.tasks.build import target_names

    required = target_names(tasks)
    classifier = next((t.head_name for t in tasks if t.kind == "classification"), None)
    regressors = [t.head_name for t in tasks if t.kind == "regression"]
    missing = [h for h in [*regressors, *([classifier] if classifier else [])] if h not in run.model.heads]
    if missing:
        raise ConfigError(f"the run's model has no head {', '.join(map(repr, missing))} for its tasks "
                          f"(heads: {', '.join(run.model.heads)})")

    def attempt(extra: list[str]) -> tuple[Any, str, HeadPredictions]:
        dm, recorded = _datamodule(run, data, split, targets=[*required, *extra])
        source = "test" if recorded == ALL else split
        dm.setup("fit" if source in ("train", "val") else "test")
        loader = getattr(dm, f"{source}_dataloader")()
        return dm, recorded, predict_heads(run.model, loader, classifier, regressors, required, extra, device)

    probe, recorded = _datamodule(run, data, split, targets=required)
    have = available_targets(probe, "test" if recorded == ALL else split)
    optional = [n for n in (BASELINE_TARGET, PT_TARGET) if n not in required and n in have]
    try:
        return attempt(optional)
    except DataError:
        if not optional:  # the data lack a required target: the reader's message says which ones they have
            raise
        return attempt([])  # an optional target missing from a later file: evaluate without the optional ones


def _write_regression_plots(pred: HeadPredictions, tasks: list[Any], class_names: list[str],
                            metrics: dict[str, Any], out: Path) -> list[Path]:
    from tagformer.eval.regression_plots import write_regression_plots

    name = metrics.get("preset") or metrics.get("model", "")
    title = f"{name} ({metrics.get('split', '')}, {metrics['num_jets']} jets)"
    written = []
    for task in tasks:
        written += write_regression_plots(task.head_name, pred.outputs[task.head_name],
                                          pred.targets[task.target_name], pred.labels, class_names,
                                          metrics["regression"][task.head_name], out,
                                          baseline=pred.targets.get(BASELINE_TARGET), title=title)
    return written


def write_plots(probs: np.ndarray, labels: np.ndarray, class_names: list[str], metrics: dict[str, Any],
                out: Path) -> list[Path]:
    """ROC (rejection vs efficiency, per convention) and confusion-matrix PNGs in ``out``."""
    from tagformer.eval.plots import plot_confusion, plot_roc

    index = {n: i for i, n in enumerate(class_names)}
    curves = {}
    for spec in convention_for(class_names).rejections:
        roc = roc_for(probs, labels, index[spec.signal], [index[b] for b in spec.background])
        if roc is not None:
            curves[f"{spec.signal} vs {'+'.join(spec.background)}"] = roc
    name = metrics.get("preset") or metrics.get("model", "")
    title = f"{name} ({metrics.get('split', '')}, {metrics['num_jets']} jets)"
    paths = RunDir(out)
    written = [plot_roc(curves, paths.roc_plot, title)]
    written.append(plot_confusion(metrics["confusion_matrix_normalised"], class_names, paths.confusion_plot, title))
    return written
