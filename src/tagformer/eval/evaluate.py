"""Evaluate a trained run on a split (or another file) with the run's own normalisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tagformer.errors import ConfigError, DataError
from tagformer.eval.metrics import compute_metrics, convention_for, roc_for

SPLITS = ("train", "val", "test")


def predict(model: Any, loader: Any, device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs (n, C) and labels (n,) of ``model`` over every batch of ``loader``."""
    import torch

    model = model.to(device).eval()
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


def _loader(run: Any, data: str | None, split: str) -> Any:
    from tagformer.data.datamodule import JetDataModule

    cfg = run.data_config
    if data is not None:
        if not Path(data).exists():
            raise DataError(f"evaluation data {data} does not exist")
        # the whole file is the evaluation set
        cfg = cfg.model_copy(update={"path": str(data), "test_path": str(data), "val_path": str(data)})
        split = "test" if split == "train" else split
    dm = JetDataModule(cfg, normaliser_state=run.normaliser_state)
    dm.setup("fit" if split in ("train", "val") else "test")
    names = [str(c) for c in dm.info.class_names]
    if names != run.info.class_names:
        raise DataError(f"classes of {data or cfg.path} ({names}) differ from the run's ({run.info.class_names})")
    return getattr(dm, f"{split}_dataloader")()


def evaluate_run(run_dir: str | Path, data: str | None = None, split: str = "test", plots: bool = True,
                 device: str | None = None) -> dict[str, Any]:
    """Metrics of the run's best checkpoint on ``split`` (or on all of ``data``); writes ``RUN/metrics.json``.

    Also writes ``RUN/roc.png`` and ``RUN/confusion.png`` when ``plots``. Returns the metrics dict.
    """
    import torch

    from tagformer.train.load import load_run

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    run = load_run(run_dir)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    probs, labels = predict(run.model, _loader(run, data, split), device)
    metrics = compute_metrics(probs, labels, run.info.class_names)
    metrics.update({
        "run": str(run.run_dir),
        "split": split,
        "data": str(data) if data else run.data_config.path,
        "model": run.summary.get("model", run.config.model.name),
        "preset": run.summary.get("preset"),
        "seed": run.config.seed,
        "params": run.summary.get("params"),
        "flops_per_jet": run.summary.get("flops_per_jet"),
        "num_particles": run.info.num_particles,
        "best_epoch": run.best.get("epoch"),
    })
    out = Path(run_dir)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if plots:
        write_plots(probs, labels, run.info.class_names, metrics, out)
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
    written = [plot_roc(curves, out / "roc.png", title)]
    written.append(plot_confusion(metrics["confusion_matrix_normalised"], class_names, out / "confusion.png", title))
    return written
