"""Evaluate a trained run on a split of its dataset (or on another file).

The model normalises its raw input features itself (its ``input_norm`` holds the statistics fitted on
the run's training split), so evaluation feeds the data pipeline's raw features straight in; runs saved
before the encoder/heads split get the same statistics from ``normaliser.json`` when they are loaded
(:func:`tagformer.rundir.load_run`).
"""

from __future__ import annotations

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


def _datamodule(run: Any, data: str | None, split: str) -> tuple[Any, str]:
    """The data module serving the evaluation jets, and the split name to record (``all`` for ``data``)."""
    from tagformer.data.datamodule import JetDataModule

    cfg = run.data_config
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
        write_plots(probs, labels, run.info.class_names, metrics, paths.root)
    return metrics


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
