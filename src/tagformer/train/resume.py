"""What ``tagformer train --resume`` may change, and every check it makes before touching the run directory.

A resume continues the same model on the same data. Settings that say *how long* or *how* to train may
change (:data:`RESUMABLE_KEYS`); anything else (the architecture, the data, the optimiser, the seed) is
refused up front, naming the keys that may change. Every file the resume reads (``config.yaml``,
``normaliser.json``, ``dataset.json``, ``wall_time.json``, ``metrics.csv``, ``checkpoints/last.ckpt``) is
read and checked here first; a problem is one :class:`~tagformer.errors.ResumeError` or
:class:`~tagformer.errors.DataError` and nothing in the directory has been written.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tagformer.config import RunConfig, build_config, read_saved_config, validate_config
from tagformer.errors import DataError, ResumeError, TagformerError
from tagformer.rundir import RunDir, read_json

#: Keys a resume may change: how long and how training runs, never what is trained on which data.
RESUMABLE_KEYS = ("trainer.max_epochs", "trainer.max_time_s", "trainer.patience", "trainer.progress",
                  "trainer.log_every_n_steps", "trainer.checkpoint_every_n_steps", "trainer.threads",
                  "trainer.devices", "trainer.accelerator", "trainer.precision", "trainer.deterministic",
                  "trainer.compile", "data.num_workers")
_PATH_KEYS = ("data.path", "data.val_path", "data.test_path")


@dataclass
class ResumeState:
    """What a resume starts from, all of it read and checked.

    Attributes
    ----------
    config : the saved config with the allowed changes applied.
    changed : dotted keys whose value the resume changes (all in :data:`RESUMABLE_KEYS`).
    normaliser : the saved ``normaliser.json`` state (None if the file is missing: it is fitted again).
    wall_time_s : training wall time of the earlier attempts.
    checkpoint : the loaded ``last.ckpt`` (None if no checkpoint was written yet: training starts at epoch 0).
    """

    config: RunConfig
    changed: list[str]
    normaliser: dict[str, Any] | None
    wall_time_s: float
    checkpoint: dict[str, Any] | None


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _same(key: str, old: Any, new: Any) -> bool:
    if old == new:
        return True
    if key in _PATH_KEYS and old and new:
        return os.path.realpath(str(old)) == os.path.realpath(str(new))
    return False


def resumed_config(paths: RunDir, overrides: Iterable[str] = (), *, model: str | None = None,
                   data: str | None = None, config_file: str | None = None) -> tuple[RunConfig, list[str]]:
    """The saved config with ``overrides`` (and ``--model``/``--data``/``--config``) applied, and the keys
    that changed; :class:`ResumeError` if a change is not in :data:`RESUMABLE_KEYS`."""
    raw = read_saved_config(paths.config)
    saved = validate_config(raw, str(paths.config))
    overrides = list(overrides)
    if not (overrides or model or data or config_file):
        return saved, []
    wanted = build_config(model=model, data=data, config_file=config_file, overrides=overrides, base=raw)
    before, after = flatten(saved.to_dict()), flatten(wanted.to_dict())
    changed = [k for k in sorted(set(before) | set(after)) if not _same(k, before.get(k), after.get(k))]
    refused = [k for k in changed if k not in RESUMABLE_KEYS]
    if refused:
        shown = ", ".join(f"{k}={after.get(k)!r} (was {before.get(k)!r})" for k in refused)
        raise ResumeError(f"cannot resume {paths.root} with {shown}: a resume continues the same model on the same "
                          f"data; only {', '.join(RESUMABLE_KEYS)} may change. Train a new run (another --run-dir) "
                          "for other settings. Nothing in the run directory was changed.")
    for key in _PATH_KEYS:  # keep the saved spelling of a path that names the same file
        field = key.split(".")[1]
        setattr(wanted.data, field, getattr(saved.data, field))
    return wanted, changed


def _normaliser(paths: RunDir) -> dict[str, Any] | None:
    from tagformer.data.normalise import Normaliser

    if not paths.normaliser.exists():
        return None
    state = read_json(paths.normaliser, "feature normalisation")
    try:
        Normaliser.from_state(state)
    except DataError as exc:
        raise DataError(f"{paths.normaliser} is corrupt ({exc}); delete it to fit the normalisation on the "
                        "training split again, then resume") from None
    return state


def _dataset_info(paths: RunDir, cfg: RunConfig) -> None:
    from tagformer.data.info import DatasetInfo

    if paths.dataset.exists():
        try:
            DatasetInfo.from_dict(read_json(paths.dataset, "dataset info"), feature_set=cfg.data.feature_set,
                                  ordering=cfg.data.ordering)
        except TagformerError as exc:
            raise DataError(f"{exc}; delete {paths.dataset} to have it written again, then resume") from None


def _wall_time(paths: RunDir) -> float:
    if not paths.wall_time.exists():
        return 0.0
    try:
        value = read_json(paths.wall_time, "training wall time").get("wall_time_s")
    except DataError as exc:
        raise DataError(f"{exc}; delete it to count the wall time from zero, then resume") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DataError(f"{paths.wall_time} is corrupt (wall_time_s {value!r}); delete it to count the wall time "
                        "from zero, then resume")
    return float(value)


def _metrics_rows(paths: RunDir) -> None:
    path = paths.metrics_csv
    if not path.exists():
        return
    hint = "delete it (the rows of the epochs done so far are lost; training resumes all the same)"
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "epoch" not in reader.fieldnames:
                raise DataError(f"{path} is corrupt (no 'epoch' column); {hint}")
            for line, row in enumerate(reader, 2):
                if not str(row.get("epoch") or "").isdigit():
                    raise DataError(f"{path} is corrupt (line {line}: epoch {row.get('epoch')!r}); {hint}")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path} cannot be read ({exc}); {hint}") from None


def load_checkpoint(paths: RunDir) -> dict[str, Any] | None:
    """The run's ``last.ckpt`` loaded safely, or None if there is none; ResumeError if it is unreadable."""
    import torch

    from tagformer.train.module import check_checkpoint_layout

    path = paths.last_ckpt
    if not path.exists():
        return None
    hint = ("Nothing was changed. Move the file away to train this run again from epoch 0 "
            "(its best weights, metrics and config are kept), or restore it from a copy")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, empty, garbage or foreign: torch raises many types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResumeError(f"cannot resume from {path}: it is not a readable checkpoint (truncated or corrupt: "
                          f"{reason[:200]}). {hint}") from None
    if not isinstance(checkpoint, dict) or not {"state_dict", "global_step", "epoch"} <= set(checkpoint):
        raise ResumeError(f"cannot resume from {path}: it is not a tagformer training checkpoint. {hint}")
    check_checkpoint_layout(checkpoint)
    return checkpoint


def check_checkpoint_fits(checkpoint: Mapping[str, Any], module: Any, path: Any) -> None:
    """ResumeError if the checkpoint's weights do not have the names and shapes of ``module``'s (the config
    was edited, or the checkpoint belongs to another run)."""
    saved = checkpoint["state_dict"]
    own = module.state_dict()
    missing = sorted(set(own) - set(saved))
    extra = sorted(set(saved) - set(own))
    wrong = [k for k in own if k in saved and tuple(saved[k].shape) != tuple(own[k].shape)]
    if missing or extra or wrong:
        first = (f"{wrong[0]} is {tuple(saved[wrong[0]].shape)} there but {tuple(own[wrong[0]].shape)} here"
                 if wrong else f"{'missing' if missing else 'unexpected'} weight {(missing or extra)[0]}")
        raise ResumeError(f"cannot resume from {path}: its weights do not fit the model config.yaml builds "
                          f"({first}); was config.yaml edited? Nothing was changed.")


def check_resume(paths: RunDir, overrides: Iterable[str] = (), *, model: str | None = None,
                 data: str | None = None, config_file: str | None = None) -> ResumeState:
    """Read and check everything a resume of ``paths`` needs; nothing is written."""
    if not paths.is_run():
        raise ResumeError(f"cannot resume: {paths.root} is not a tagformer run directory")
    cfg, changed = resumed_config(paths, overrides, model=model, data=data, config_file=config_file)
    normaliser = _normaliser(paths)
    _dataset_info(paths, cfg)
    wall = _wall_time(paths)
    _metrics_rows(paths)
    return ResumeState(config=cfg, changed=changed, normaliser=normaliser, wall_time_s=wall,
                       checkpoint=load_checkpoint(paths))
