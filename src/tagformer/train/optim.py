"""The optimiser and learning-rate schedule of a training or pretraining module (one definition for both)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from tagformer.config import OptimConfig, ScheduleConfig


def build_optimizer(named_parameters: Iterable[tuple[str, torch.nn.Parameter]], cfg: OptimConfig,
                    schedule: ScheduleConfig, total_steps: int) -> dict[str, Any]:
    """Lightning's ``configure_optimizers`` answer: AdamW/Adam/SGD over the trainable parameters (no weight
    decay on biases and 1-d parameters such as norms) and the per-step schedule of
    :func:`tagformer.train.module.lr_factor` over ``total_steps``."""
    from tagformer.train.module import lr_factor

    decay, no_decay = [], []
    for name, p in named_parameters:
        if p.requires_grad:
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    elif cfg.name == "adam":
        opt = torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas)
    else:
        opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, total_steps, schedule))
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
