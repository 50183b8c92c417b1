"""Load a finished (or at least validated once) run: model with best weights, config, normaliser, info."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from tagformer.data.info import DatasetInfo
from tagformer.errors import TagformerError
from tagformer.config import RunConfig, load_config


@dataclass
class LoadedRun:
    """A trained run, ready for evaluation or export.

    Attributes
    ----------
    run_dir : the run directory.
    model : the model with the best-epoch weights, in eval mode, on CPU.
    config : the merged run configuration (``config.yaml``).
    data_config : the run's :class:`~tagformer.data.datamodule.DataConfig`.
    normaliser_state : the feature normalisation fitted at training time (pass to ``JetDataModule``).
    info : dataset info (class names, features, particles).
    summary : ``summary.json`` if the run finished, else an empty dict.
    best : metadata of the best checkpoint (epoch, monitor, score, global_step).
    """

    run_dir: Path
    model: nn.Module
    config: RunConfig
    data_config: Any
    normaliser_state: dict[str, Any]
    info: DatasetInfo
    summary: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path, what: str) -> Any:
    if not path.exists():
        raise TagformerError(f"incomplete run: {path} is missing ({what})")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TagformerError(f"cannot read {path}: {exc}") from exc


def load_weights(path: Path) -> dict[str, Any]:
    """Read a ``best.pt`` file safely (``weights_only=True``)."""
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise TagformerError(f"incomplete run: {path} is missing (no validation epoch finished yet)") from exc
    except Exception as exc:  # a torn or foreign file
        raise TagformerError(f"cannot load checkpoint {path}: {exc}") from exc
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise TagformerError(f"checkpoint {path} is not a tagformer best.pt file")
    return blob


def load_run(run_dir: str | Path) -> LoadedRun:
    """Load ``run_dir``: best weights into a freshly built model (eval mode), plus config and data info.

    Raises
    ------
    TagformerError
        If the directory is missing or lacks the config, dataset info, normaliser or best checkpoint.
    """
    from tagformer.models.registry import create_model

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise TagformerError(f"run directory {run_dir} does not exist")
    if not (run_dir / "config.yaml").exists():
        raise TagformerError(f"{run_dir} is not a tagformer run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    info = DatasetInfo.from_dict(_read_json(run_dir / "dataset.json", "dataset info"),
                                 feature_set=config.data.feature_set, ordering=config.data.ordering)
    normaliser = _read_json(run_dir / "normaliser.json", "feature normalisation")
    blob = load_weights(run_dir / "checkpoints" / "best.pt")
    model = create_model(config.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=info.num_particles, **config.model.overrides)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as exc:
        raise TagformerError(f"checkpoint in {run_dir} does not match model {config.model.name!r}: {exc}") from exc
    model.eval()
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return LoadedRun(run_dir=run_dir, model=model, config=config, data_config=config.data,
                     normaliser_state=normaliser, info=info, summary=summary, best=dict(blob.get("meta", {})))
