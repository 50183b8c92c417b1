"""One pretraining run: data (labels ignored), backbone, method, Lightning trainer, run directory, summary.

The run directory has the layout of a training run (:class:`tagformer.rundir.RunDir`): ``config.yaml`` (with
the ``pretrain`` section), ``normaliser.json``, ``dataset.json``, ``checkpoints/last.ckpt`` (full state, for
``--resume``), ``checkpoints/best.pt`` (the backbone's weights at the best validation loss: encoder and
input normalisation, no heads), ``metrics.csv``, ``wall_time.json``, ``logs/`` and ``summary.json``. The
trainer, its callbacks (rolling checkpoint, best weights, early stopping, metrics rows, progress) and the
data module are those of ``tagformer train``.

Labels are never read: a file of one class (or with meaningless labels) pretrains like any other. A
validation split is needed (the best weights and early stopping follow ``val_loss``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tagformer.atomic import atomic_write_json, check_output_dir
from tagformer.config import save_config
from tagformer.errors import ConfigError, TagformerError
from tagformer.pretrain.collapse import is_collapsed
from tagformer.pretrain.config import PretrainConfig
from tagformer.rundir import RunDir


def _accelerator(name: str) -> str:
    import torch

    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={name} but no CUDA GPU is available on this machine; use "
                          "trainer.accelerator=auto or cpu")
    return name


def pretrain(cfg: PretrainConfig | None, run_dir: str | Path, *, resume: bool = False,
             overrides: Iterable[str] = (), model: str | None = None, data: str | None = None,
             method: str | None = None, devices: int | None = None) -> dict[str, Any]:
    """Pretrain one encoder; returns the summary written to ``RUN/summary.json``.

    Parameters
    ----------
    cfg : the validated config of a new run (ignored when ``resume``).
    run_dir : new or empty for a new run; a pretraining run to resume.
    resume : continue from ``RUN/checkpoints/last.ckpt``; ``overrides`` may then change only the keys of
        :data:`tagformer.train.resume.RESUMABLE_KEYS`.
    method : when given, must agree with ``cfg.pretrain.method`` (new run) or the saved one (resume).

    Raises
    ------
    TagformerError
        For every problem a user can fix, before the run directory is touched when it can be known then.
    """
    import lightning as L
    import torch

    from tagformer.data.datamodule import JetDataModule
    from tagformer.pretrain.backbone import build_backbone
    from tagformer.pretrain.factory import build_method
    from tagformer.pretrain.module import PretrainModule
    from tagformer.pretrain.resume import check_pretrain_resume
    from tagformer.train.callbacks import BestWeights
    from tagformer.train.resume import check_checkpoint_fits
    from tagformer.train.run import fit_timed, global_rank, launch_topology, make_trainer

    paths = RunDir(run_dir)
    writer = global_rank() == 0
    state = None
    if resume:
        state = check_pretrain_resume(paths, overrides, model=model, data=data, method=method)
        cfg = state.config
    elif cfg is None:
        raise ConfigError("no configuration given")
    else:
        if method is not None and method != cfg.pretrain.method:
            raise ConfigError(f"method {method!r} disagrees with pretrain.method={cfg.pretrain.method!r}")
        if writer:
            paths.check_new()
    if writer:
        check_output_dir(paths.root, "run directory")
    cfg.trainer.devices, num_nodes = launch_topology(cfg.trainer.devices, devices)
    accelerator = _accelerator(cfg.trainer.accelerator)
    if cfg.trainer.threads:
        torch.set_num_threads(cfg.trainer.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    dm = JetDataModule(cfg.data, normaliser_state=state.normaliser if state else None)
    dm.setup("fit")
    if not dm.plan.splits.has("val"):
        raise ConfigError(f"no validation split: data.val_fraction is 0 and {cfg.data.path} has no val files, but "
                          "the best weights follow val_loss; set data.val_fraction > 0 or data.val_path")
    norm_state = dm.normaliser_state()
    info = dm.info
    backbone = build_backbone(cfg.model.name, cfg.model.overrides, info.in_features, info.num_particles, norm_state)
    module = PretrainModule(backbone, build_method(cfg, backbone, info.in_features), cfg.optim, cfg.schedule,
                            cfg.seed)
    checkpoint = state.checkpoint if state else None
    if checkpoint is not None:
        check_checkpoint_fits(checkpoint, module, paths.last_ckpt)
    start_step = int(checkpoint["global_step"]) if checkpoint is not None else 0
    ckpt_path = str(paths.last_ckpt) if checkpoint is not None else None
    del checkpoint
    if state is not None:
        state.checkpoint = None
    if writer:
        paths.checkpoints.mkdir(parents=True, exist_ok=True)
        if state is None or not paths.normaliser.exists():
            atomic_write_json(paths.normaliser, norm_state)
        if state is None or not paths.dataset.exists():
            atomic_write_json(paths.dataset, asdict(info))
        if state is None or state.changed:
            save_config(cfg, paths.config)  # type: ignore[arg-type]  # same dump as a RunConfig
    best = BestWeights(paths.best_weights, "val_loss")
    trainer = make_trainer(cfg, paths, best, num_nodes, accelerator)  # type: ignore[arg-type]  # reads trainer.*

    wall = fit_timed(trainer, module, dm, ckpt_path, paths, writer=writer, start_step=start_step,
                     previous_s=state.wall_time_s if state else 0.0)
    if not trainer.is_global_zero:
        return {}
    if best.best_epoch < 0:
        raise TagformerError(f"pretraining run {paths.root} finished without a finite validation loss")
    from tagformer.bench.flops import count_params

    stats = module.last_stats
    summary = {
        "pretrain_method": cfg.pretrain.method,
        "model": cfg.model.choice.entry.name,
        "preset": cfg.model.choice.preset,
        "model_overrides": cfg.model.overrides,
        "encoder_class": type(backbone.encoder).__name__,
        "params": count_params(module.model),
        "method_params": count_params(module.method),
        "num_particles": info.num_particles,
        "feature_set": cfg.data.feature_set,
        "ordering": cfg.data.ordering,
        "seed": cfg.seed,
        "data": cfg.data.path,
        "jets_seen": int(module.jets_seen),
        "steps": int(trainer.global_step),
        "epochs_completed": int(trainer.current_epoch),
        "best_epoch": best.best_epoch,
        "best_val_loss": best.best_score,
        "emb_std": stats.get("emb_std"),
        "emb_rank": stats.get("emb_rank"),
        "collapsed": is_collapsed(stats, stats.get("emb_scale", 1.0)) if stats else None,
        "wall_time_s": round(wall, 2),
        "accelerator": accelerator,
        "devices": cfg.trainer.devices,
    }
    atomic_write_json(paths.summary, summary)
    return summary
