"""One training run: data, model, Lightning trainer, run directory, summary.

Run directory layout::

    RUN/config.yaml        merged, validated configuration
    RUN/normaliser.json    feature normalisation fitted on the training split (also in the model's input_norm)
    RUN/dataset.json       dataset info (format, classes, features, particles, ordering, truncation)
    RUN/checkpoints/last.ckpt   full Lightning state (every K steps and each epoch; for --resume)
    RUN/checkpoints/best.pt     best-epoch model weights {"state_dict", "meta"}
    RUN/metrics.csv        one row per completed epoch
    RUN/logs/              Lightning CSV logs (and TensorBoard when installed)
    RUN/wall_time.json     training wall time so far (carried across resumes)
    RUN/summary.json       model, preset, params, FLOPs per jet, best epoch, val metrics, wall time

The data loaders yield raw features; the normalisation fitted on the training split's real particles is
copied into the model (``model.input_norm``) before training, so the weights carry it.

Every checkpoint holds only tensors and plain Python values and is read with
``torch.load(..., weights_only=True)``; Lightning's resume is asked to load the same way.

Resuming mid-epoch restores model, optimiser, scheduler, loop counters and callbacks exactly; the data
loader is not resumable, so the rest of the interrupted epoch draws its (correct number of) batches from a
fresh shuffle: a few jets of that epoch may be seen twice and others not at all. Completed epochs are
never repeated or lost.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.config import RunConfig, load_config, save_config
from tagformer.errors import ConfigError, TagformerError

if TYPE_CHECKING:
    from tagformer.data.info import DatasetInfo
    from tagformer.models.tagger import Tagger
    from tagformer.tasks.base import Task


def _write_json(path: Path, obj: Any) -> None:
    from tagformer.train.callbacks import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def global_rank() -> int:
    """This process's rank: ``RANK`` under torchrun, ``LOCAL_RANK`` in Lightning's DDP children, else 0."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def launch_topology(config_devices: int, devices: int | None) -> tuple[int, int]:
    """(devices per node, nodes) to train on.

    Under ``torchrun`` the launcher already started one process per device: the answer is its
    ``LOCAL_WORLD_SIZE`` and ``WORLD_SIZE / LOCAL_WORLD_SIZE``, and an explicit ``--devices`` must agree.
    Otherwise ``devices`` (the ``--devices`` flag) or the config's ``trainer.devices`` on one node, where
    Lightning starts the extra processes itself.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_torchelastic_launched()):
        return (devices if devices is not None else config_devices), 1
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    if devices is not None and devices != local:
        raise ConfigError(f"torchrun started {local} processes per node but --devices is {devices}; "
                          "drop --devices (torchrun's --nproc-per-node decides) or make them equal")
    if world % local:
        raise ConfigError(f"torchrun world size {world} is not a multiple of {local} processes per node")
    return local, world // local


def prepare_run_dir(run_dir: Path, cfg: RunConfig | None, resume: bool, overrides: list[str]) -> RunConfig:
    """Check the run directory and return the config to use (the saved one, when resuming)."""
    saved = run_dir / "config.yaml"
    if resume:
        if not saved.exists():
            raise ConfigError(f"cannot resume: {saved} does not exist (not a tagformer run directory)")
        from tagformer.config import _read_yaml, build_config

        base = _read_yaml(saved)
        return build_config(base=base, overrides=overrides) if overrides else load_config(saved)
    if cfg is None:
        raise ConfigError("no configuration given")
    if global_rank() == 0 and ((run_dir / "checkpoints").exists() or (run_dir / "summary.json").exists()):
        raise ConfigError(
            f"run directory {run_dir} already holds a run; pass --resume to continue it or choose another --run-dir"
        )
    return cfg


def _precision(cfg: RunConfig, accelerator: str) -> str:
    if cfg.trainer.precision != "auto":
        return cfg.trainer.precision
    return "bf16-mixed" if accelerator in ("gpu", "cuda") else "32-true"


def _accelerator(cfg: RunConfig) -> str:
    import torch

    acc = cfg.trainer.accelerator
    if acc == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return acc


def build_tagger(cfg: RunConfig, info: DatasetInfo, normaliser_state: dict[str, Any]) -> Tagger:
    """The run's :class:`~tagformer.models.tagger.Tagger`, its input normalisation set to the fitted statistics
    (so it takes the loaders' raw features)."""
    from tagformer.models.registry import create_model

    model = create_model(cfg.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=info.num_particles, **cfg.model.overrides)
    model.input_norm.set_stats(normaliser_state["mean"], normaliser_state["std"])
    return model


def default_tasks(info: DatasetInfo) -> list[Task]:
    """What ``tagformer train`` trains: jet classification into the dataset's classes."""
    from tagformer.tasks import ClassificationTask

    return [ClassificationTask(info.num_classes)]


def _best_val_row(metrics_csv: Path, best_epoch: int) -> dict[str, float]:
    if not metrics_csv.exists():
        return {}
    with open(metrics_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if int(row["epoch"]) == best_epoch:
                return {k: float(v) for k, v in row.items() if v not in ("", None) and k != "epoch"}
    return {}


def _epochs_done(metrics_csv: Path) -> int:
    if not metrics_csv.exists():
        return 0
    with open(metrics_csv, newline="") as fh:
        return len(list(csv.DictReader(fh)))


def train(cfg: RunConfig | None, run_dir: str | Path, *, resume: bool = False, overrides: list[str] | None = None,
          devices: int | None = None) -> dict[str, Any]:
    """Train one model; returns the summary written to ``RUN/summary.json``.

    Parameters
    ----------
    cfg : the validated config (ignored when ``resume``: the run directory's ``config.yaml`` is used,
        with ``overrides`` applied on top, e.g. a larger ``trainer.max_epochs``).
    run_dir : the run directory (created).
    resume : continue from ``RUN/checkpoints/last.ckpt`` (a fresh start if no checkpoint was written yet).
    devices : number of devices (several -> DDP); overrides ``trainer.devices``.
    """
    import lightning as L
    import torch

    from tagformer.data.datamodule import JetDataModule
    from tagformer.train.callbacks import BestWeights, EpochMetrics, JetProgressBar, RollingCheckpoint
    from tagformer.train.module import TaggerModule

    run_dir = Path(run_dir)
    cfg = prepare_run_dir(run_dir, cfg, resume, list(overrides or []))
    cfg.trainer.devices, num_nodes = launch_topology(cfg.trainer.devices, devices)
    writer = global_rank() == 0  # DDP ranks > 0 run the same code but leave the run directory to rank 0
    if writer:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    norm_path = run_dir / "normaliser.json"
    norm_state = json.loads(norm_path.read_text()) if resume and norm_path.exists() else None
    dm = JetDataModule(cfg.data, normaliser_state=norm_state)
    dm.setup("fit")
    info = dm.info
    norm_state = dm.normaliser_state()
    if writer:
        _write_json(norm_path, norm_state)
        _write_json(run_dir / "dataset.json", asdict(info))

    model = build_tagger(cfg, info, norm_state)
    module = TaggerModule(model, default_tasks(info), cfg.optim, cfg.schedule)

    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    best = BestWeights(ckpt_dir / "best.pt", cfg.trainer.monitor)
    mode = "min" if cfg.trainer.monitor.endswith("loss") else "max"
    callbacks: list[Any] = [
        EpochMetrics(run_dir / "metrics.csv"),
        best,
        L.pytorch.callbacks.EarlyStopping(monitor=cfg.trainer.monitor, patience=cfg.trainer.patience, mode=mode,
                                          check_finite=False),
        RollingCheckpoint(last, cfg.trainer.checkpoint_every_n_steps),
    ]
    if cfg.trainer.progress:
        callbacks.append(JetProgressBar(refresh_rate=max(1, cfg.trainer.log_every_n_steps)))
    loggers: list[Any] = [L.pytorch.loggers.CSVLogger(run_dir, name="logs")]
    with contextlib.suppress(ImportError, ModuleNotFoundError):
        import tensorboard  # noqa: F401

        loggers.append(L.pytorch.loggers.TensorBoardLogger(run_dir, name="logs", version="tensorboard"))

    accelerator = _accelerator(cfg)
    n_dev = cfg.trainer.devices
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=n_dev,
        num_nodes=num_nodes,
        strategy="ddp" if n_dev * num_nodes > 1 else "auto",
        precision=_precision(cfg, accelerator),
        max_epochs=cfg.trainer.max_epochs,
        gradient_clip_val=cfg.trainer.grad_clip,
        deterministic="warn" if cfg.trainer.deterministic else False,
        callbacks=callbacks,
        logger=loggers,
        enable_checkpointing=False,
        enable_progress_bar=cfg.trainer.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        limit_train_batches=cfg.trainer.limit_train_batches,
        limit_val_batches=cfg.trainer.limit_val_batches,
        max_time={"seconds": cfg.trainer.max_time_s} if cfg.trainer.max_time_s else None,
        default_root_dir=run_dir,
    )
    state_path = run_dir / "wall_time.json"
    previous = json.loads(state_path.read_text())["wall_time_s"] if resume and state_path.exists() else 0.0
    t0 = time.perf_counter()
    ckpt_path = str(last) if resume and last.exists() else None
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    except SystemExit as exc:  # Lightning turns Ctrl+C into sys.exit(1) after a graceful shutdown
        if trainer.interrupted:
            raise KeyboardInterrupt from exc
        raise
    finally:
        if writer:
            _write_json(state_path, {"wall_time_s": previous + time.perf_counter() - t0})
    if trainer.interrupted:
        raise KeyboardInterrupt
    wall = previous + time.perf_counter() - t0
    if not trainer.is_global_zero:
        return {}
    if best.best_epoch < 0:
        raise TagformerError(f"run {run_dir} finished without a finite validation score; no best checkpoint")
    from tagformer.bench.flops import FLOPS_CONVENTION, count_params, model_flops_per_jet

    flops = model_flops_per_jet(module.model, in_features=info.in_features, num_particles=cfg.data.num_particles)
    summary = {
        "model": cfg.model.choice.entry.name,
        "preset": cfg.model.choice.preset,
        "model_overrides": cfg.model.overrides,
        "params": count_params(module.model),
        "flops_per_jet": flops,
        "flops_convention": FLOPS_CONVENTION,
        "num_particles": info.num_particles,
        "feature_set": cfg.data.feature_set,
        "ordering": cfg.data.ordering,
        "seed": cfg.seed,
        "data": cfg.data.path,
        "class_names": info.class_names,
        "best_epoch": best.best_epoch,
        "monitor": cfg.trainer.monitor,
        "best_score": best.best_score,
        "val": _best_val_row(run_dir / "metrics.csv", best.best_epoch),
        "epochs_completed": _epochs_done(run_dir / "metrics.csv"),
        "stopped_early": bool(trainer.should_stop and trainer.current_epoch < cfg.trainer.max_epochs),
        "wall_time_s": round(wall, 2),
        "accelerator": accelerator,
        "devices": n_dev,
        "num_nodes": num_nodes,
        "torch_threads": torch.get_num_threads(),
    }
    _write_json(run_dir / "summary.json", summary)
    return summary
