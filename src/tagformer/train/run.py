"""One training run: data, model, Lightning trainer, run directory, summary.

The run directory's layout is :class:`tagformer.rundir.RunDir` (documented in :mod:`tagformer.rundir`);
this module writes ``config.yaml``, ``normaliser.json``, ``dataset.json``, ``checkpoints/``, ``metrics.csv``,
``wall_time.json``, ``logs/`` and ``summary.json``.

The data flow is straight: the config arrives validated with its model already resolved
(``cfg.model.choice``); one :class:`~tagformer.data.datamodule.JetDataModule` resolves the data once and
yields raw features; the normalisation it fits on the training split is copied into the model
(``model.input_norm``) before training, so the weights carry it; the model is trained on its tasks
(``cfg.tasks``: classification, regression or both,
:func:`tagformer.tasks.build_tasks`) by :class:`~tagformer.train.module.TaggerModule`.

Every checkpoint holds only tensors and plain Python values and is read with
``torch.load(..., weights_only=True)``; Lightning's resume is asked to load the same way.

Nothing is written to the run directory before the configuration, the data (every split training reads)
and the model have been checked: a command that fails on a bad setting or file leaves the directory as it
was. A new run needs a new or empty directory; a resume first reads and checks every run file
(:mod:`tagformer.train.resume`) and refuses changes other than how long or how training runs.

Resuming at an epoch boundary is exact: the weights, optimiser, scheduler, loop counters, callbacks and
random generators (:mod:`tagformer.train.rng`) are restored and the data order of every epoch is a
function of (seed, epoch) (:class:`~tagformer.data.dataset.EpochShuffle`, and for streaming of the number
of loader workers as well), so the resumed run ends with the weights of an uninterrupted one. Resuming
mid-epoch restores the same state, but the loader cannot skip the batches already seen: the rest of the
interrupted epoch draws its (correct number of) batches from that epoch's order from the start, so a few
jets of that epoch may be seen twice and others not at all. Completed epochs are never repeated or lost.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagformer.atomic import atomic_write_json, check_output_dir
from tagformer.config import RunConfig, save_config
from tagformer.errors import ConfigError, DataError, TagformerError
from tagformer.rundir import RunDir

if TYPE_CHECKING:
    import lightning as L

    from tagformer.data.datamodule import JetDataModule
    from tagformer.data.info import DatasetInfo
    from tagformer.models.tagger import Tagger
    from tagformer.train.callbacks import BestWeights
    from tagformer.train.resume import ResumeState


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


def _precision(cfg: RunConfig, accelerator: str) -> str:
    if cfg.trainer.precision != "auto":
        return cfg.trainer.precision
    return "bf16-mixed" if accelerator in ("gpu", "cuda") else "32-true"


def _accelerator(cfg: RunConfig) -> str:
    """The accelerator to train on; ConfigError if the configured one is not available here."""
    import torch

    acc = cfg.trainer.accelerator
    if acc == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={acc} but no CUDA GPU is available on this machine "
                          "(torch.cuda.is_available() is False); use trainer.accelerator=auto or cpu")
    if acc == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError("trainer.accelerator=mps but no MPS device is available; use trainer.accelerator=auto or cpu")
    return acc


def build_tagger(cfg: RunConfig, info: DatasetInfo, normaliser_state: dict[str, Any]) -> Tagger:
    """The run's :class:`~tagformer.models.tagger.Tagger`, its input normalisation set to the fitted statistics
    (so it takes the loaders' raw features)."""
    from tagformer.models.registry import create_model

    model = create_model(cfg.model.name, num_classes=info.num_classes, in_features=info.in_features,
                         num_particles=info.num_particles, **cfg.model.overrides)
    model.input_norm.set_stats(normaliser_state["mean"], normaliser_state["std"])
    return model


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


def check_trainable(dm: JetDataModule, cfg: RunConfig) -> None:
    """Refuse data a run cannot learn from: no validation split (nothing to monitor, no best checkpoint) or
    a training split holding a single class."""
    if not dm.plan.splits.has("val"):
        raise ConfigError(f"no validation split: data.val_fraction is 0 and {cfg.data.path} has no val files, but "
                          f"early stopping and the best checkpoint follow {cfg.trainer.monitor}; set "
                          "data.val_fraction > 0 (e.g. 0.1) or data.val_path")
    for split in ("train", "val"):
        limit = getattr(cfg.trainer, f"limit_{split}_batches")
        batches = dm.batches_per_epoch(split)
        if limit is not None and (min(batches, limit) if isinstance(limit, int) else int(batches * limit)) < 1:
            raise ConfigError(f"trainer.limit_{split}_batches={limit} leaves no {split} batch of the {batches} per "
                              "epoch; raise it (a number of batches >= 1 or a larger fraction)")
    classes = dm.train_classes()
    if classes is not None and len(classes) < 2:
        names = dm.info.class_names
        only = names[classes[0]] if classes and 0 <= classes[0] < len(names) else classes
        raise DataError(f"the training split of {cfg.data.path} holds jets of one class only ({only!r}); a tagger "
                        f"needs at least two of the dataset's classes ({', '.join(map(str, names))})")


def prepare_data(cfg: RunConfig, normaliser_state: dict[str, Any] | None) -> tuple[JetDataModule, dict[str, Any]]:
    """The data module (training and validation splits read and checked) and the normalisation state: the
    given one (a resumed run's), else fitted on the training split. Writes nothing."""
    from tagformer.data.datamodule import JetDataModule

    dm = JetDataModule(cfg.data, normaliser_state=normaliser_state)
    dm.setup("fit")
    state = dm.normaliser_state()
    check_trainable(dm, cfg)
    return dm, state


def write_start(paths: RunDir, cfg: RunConfig, normaliser_state: dict[str, Any], info: DatasetInfo,
                resume: ResumeState | None) -> None:
    """Create the run directory's files that training starts from (rank 0, after every check passed).

    A new run writes ``normaliser.json``, ``dataset.json`` and ``checkpoints/``, then ``config.yaml`` last
    (with it the directory counts as a run). A resume writes only what is missing or changed.
    """
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    if resume is None or not paths.normaliser.exists():
        atomic_write_json(paths.normaliser, normaliser_state)
    if resume is None or not paths.dataset.exists():
        atomic_write_json(paths.dataset, asdict(info))
    if resume is None or resume.changed:
        save_config(cfg, paths.config)


def make_trainer(cfg: RunConfig, paths: RunDir, best: BestWeights, num_nodes: int, accelerator: str,
                 extra_callbacks: Sequence[Any] = ()) -> L.Trainer:
    """The Lightning trainer with the run's callbacks (metrics, best weights, early stopping, rolling
    checkpoint, progress bar, then ``extra_callbacks``) and loggers (CSV, plus TensorBoard when installed)."""
    import lightning as L

    from tagformer.train.callbacks import DataEpoch, EpochMetrics, JetProgressBar, RollingCheckpoint
    from tagformer.train.logprogress import LogLines

    mode = "min" if cfg.trainer.monitor.endswith("loss") else "max"
    callbacks: list[Any] = [
        DataEpoch(),
        EpochMetrics(paths.metrics_csv),
        best,
        L.pytorch.callbacks.EarlyStopping(monitor=cfg.trainer.monitor, patience=cfg.trainer.patience, mode=mode,
                                          check_finite=False),
        RollingCheckpoint(paths.last_ckpt, cfg.trainer.checkpoint_every_n_steps),
        *extra_callbacks,
    ]
    bar = cfg.trainer.progress and sys.stdout.isatty()  # a redrawn bar on terminals, plain lines in log files
    if bar:
        callbacks.append(JetProgressBar(refresh_rate=max(1, cfg.trainer.log_every_n_steps)))
    elif cfg.trainer.progress:
        callbacks.append(LogLines())
    loggers: list[Any] = [L.pytorch.loggers.CSVLogger(paths.root, name=paths.logs.name)]
    with contextlib.suppress(ImportError, ModuleNotFoundError):
        import tensorboard  # noqa: F401

        loggers.append(L.pytorch.loggers.TensorBoardLogger(paths.root, name=paths.logs.name, version="tensorboard"))
    n_dev = cfg.trainer.devices
    return L.Trainer(
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
        enable_progress_bar=bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=cfg.trainer.log_every_n_steps,
        limit_train_batches=cfg.trainer.limit_train_batches,
        limit_val_batches=cfg.trainer.limit_val_batches,
        # a batch schedule changes the training batch size by epoch: the training loader is built anew each epoch
        reload_dataloaders_every_n_epochs=1 if getattr(cfg.trainer, "batch_schedule", None) else 0,
        max_time={"seconds": cfg.trainer.max_time_s} if cfg.trainer.max_time_s else None,
        default_root_dir=paths.root,
    )


def stop_reason(trainer: L.Trainer, max_epochs: int) -> dict[str, bool]:
    """Why training ended before ``max_epochs``: ``stopped_early`` (early stopping on the monitored value) and
    ``stopped_by_time`` (``trainer.max_time_s`` ran out). Both False when every epoch ran."""
    from lightning.pytorch.callbacks import EarlyStopping, Timer

    early = any(isinstance(c, EarlyStopping) and c.stopped_epoch > 0 for c in trainer.callbacks)
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    remaining = timer.time_remaining("train") if timer is not None else None
    timed_out = remaining is not None and remaining <= 0 and trainer.current_epoch < max_epochs
    return {"stopped_early": bool(early and not timed_out), "stopped_by_time": bool(timed_out)}


def fit_timed(trainer: L.Trainer, module: Any, dm: Any, ckpt_path: str | None, paths: RunDir, *, writer: bool,
              start_step: int, previous_s: float) -> float:
    """``trainer.fit`` with the run's wall-time bookkeeping; returns the run's total training seconds.

    ``wall_time.json`` is written (by the writing rank) once training has advanced past ``start_step``, also
    when it is interrupted, so a resumed run counts earlier sessions' time (``previous_s``). Ctrl+C, which
    Lightning turns into a graceful shutdown and ``sys.exit(1)``, comes out as ``KeyboardInterrupt``.
    """
    t0 = time.perf_counter()
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    except SystemExit as exc:  # Lightning turns Ctrl+C into sys.exit(1) after a graceful shutdown
        if trainer.interrupted:
            raise KeyboardInterrupt from exc
        raise
    finally:
        if writer and trainer.global_step > start_step:  # count time only once training has advanced
            atomic_write_json(paths.wall_time, {"wall_time_s": previous_s + time.perf_counter() - t0})
    if trainer.interrupted:
        raise KeyboardInterrupt
    return previous_s + time.perf_counter() - t0


def train(cfg: RunConfig | None, run_dir: str | Path, *, resume: bool = False, overrides: list[str] | None = None,
          devices: int | None = None, model: str | None = None, data: str | None = None,
          config_file: str | None = None, extra_callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Train one model; returns the summary written to ``RUN/summary.json``.

    Parameters
    ----------
    cfg : the validated config of a new run (ignored when ``resume``: the run directory's ``config.yaml``
        is used, with ``overrides`` applied on top, e.g. a larger ``trainer.max_epochs``).
    run_dir : the run directory: new or empty for a new run (created), a run directory to resume.
    resume : continue from ``RUN/checkpoints/last.ckpt`` (from epoch 0 if no checkpoint was written yet).
        ``overrides``, ``model``, ``data`` and ``config_file`` may only change the keys of
        :data:`tagformer.train.resume.RESUMABLE_KEYS`; others are refused before anything is written.
    devices : number of devices (several -> DDP); overrides ``trainer.devices``.
    extra_callbacks : further Lightning callbacks, run after the run's own (e.g. the architecture search's
        pruning callback, which stops a trial that is dominated at the same epoch).

    Raises
    ------
    TagformerError
        For every problem a user can fix (raised before the run directory is touched, when it can be known
        then).
    """
    import lightning as L
    import torch

    from tagformer.tasks import attach_heads, build_tasks, fit_target_stats
    from tagformer.tasks.build import regression_tasks
    from tagformer.train.callbacks import BestWeights
    from tagformer.train.compile import resolve_compile
    from tagformer.train.init_from import (
        FrozenEncoderEval,
        freeze_encoder,
        load_pretrained_encoder,
        pretrained_normaliser,
    )
    from tagformer.train.module import TaggerModule
    from tagformer.train.resume import check_checkpoint_fits, check_resume

    paths = RunDir(run_dir)
    writer = global_rank() == 0  # DDP ranks > 0 run the same code but leave the run directory to rank 0
    state: ResumeState | None = None
    if resume:
        state = check_resume(paths, overrides or [], model=model, data=data, config_file=config_file)
        cfg = state.config
    elif cfg is None:
        raise ConfigError("no configuration given")
    elif writer:
        paths.check_new()
    if writer:
        check_output_dir(paths.root, "run directory")
    cfg.trainer.devices, num_nodes = launch_topology(cfg.trainer.devices, devices)
    accelerator = _accelerator(cfg)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    init_from = cfg.finetune.init_from
    given_norm = state.normaliser if state else (pretrained_normaliser(init_from) if init_from else None)
    dm, norm_state = prepare_data(cfg, given_norm)
    info = dm.info
    dm.set_batch_schedule(cfg.trainer.batch_schedule)
    compiled = resolve_compile(cfg.trainer.compile, accelerator)
    tasks = build_tasks(cfg.tasks, info.num_classes)
    tagger = attach_heads(build_tagger(cfg, info, norm_state), tasks)
    target_stats = fit_target_stats(tasks, dm.train_targets()) if regression_tasks(tasks) else {}
    if init_from and state is None:  # a resume takes every weight from its checkpoint
        load_pretrained_encoder(tagger, init_from, model=cfg.model.name, overrides=cfg.model.overrides, data=cfg.data)
    if cfg.finetune.freeze_encoder:
        freeze_encoder(tagger)
        extra_callbacks = (FrozenEncoderEval(), *extra_callbacks)
    module = TaggerModule(tagger, tasks, cfg.optim, cfg.schedule, compile_step=compiled)
    checkpoint = state.checkpoint if state else None
    if checkpoint is not None:
        check_checkpoint_fits(checkpoint, module, paths.last_ckpt)
    start_step = int(checkpoint["global_step"]) if checkpoint is not None else 0
    ckpt_path = str(paths.last_ckpt) if checkpoint is not None else None
    del checkpoint
    if state is not None:
        state.checkpoint = None  # Lightning reads the file again; do not hold two copies
    if writer:
        write_start(paths, cfg, norm_state, info, state)
    best = BestWeights(paths.best_weights, cfg.trainer.monitor)
    trainer = make_trainer(cfg, paths, best, num_nodes, accelerator, extra_callbacks)

    wall = fit_timed(trainer, module, dm, ckpt_path, paths, writer=writer, start_step=start_step,
                     previous_s=state.wall_time_s if state else 0.0)
    if not trainer.is_global_zero:
        return {}
    if best.best_epoch < 0:
        raise TagformerError(f"run {paths.root} finished without a finite validation score; no best checkpoint")
    from tagformer.bench.flops import FLOPS_CONVENTION, count_params, model_flops_per_jet

    summary = {
        "tasks": [t.name for t in tasks],
        **({"target_stats": target_stats} if target_stats else {}),
        **({"init_from": init_from, "freeze_encoder": cfg.finetune.freeze_encoder} if init_from else {}),
        "model": cfg.model.choice.entry.name,
        "preset": cfg.model.choice.preset,
        "model_overrides": cfg.model.overrides,
        "params": count_params(module.model),
        "flops_per_jet": model_flops_per_jet(module.model, in_features=info.in_features,
                                             num_particles=cfg.data.num_particles),
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
        "val": _best_val_row(paths.metrics_csv, best.best_epoch),
        "epochs_completed": _epochs_done(paths.metrics_csv),
        **stop_reason(trainer, cfg.trainer.max_epochs),
        "wall_time_s": round(wall, 2),
        "accelerator": accelerator,
        "devices": cfg.trainer.devices,
        "num_nodes": num_nodes,
        "torch_threads": torch.get_num_threads(),
        "compile": compiled,
        "compile_warmup_s": round(module.warmup.total_s, 2),
        "batch_schedule": cfg.trainer.batch_schedule,
    }
    atomic_write_json(paths.summary, summary)
    return summary
