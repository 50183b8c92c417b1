"""RINO-style self-distillation: the embedding of a jet should not depend on the resolution it is seen at.

Views are the jet reclustered with exclusive kT into different numbers of subjets
(:func:`~tagformer.pretrain.views.make_view`; 0 = the particles themselves): ``global_views`` (default the
particles and 16 subjets) and ``local_views`` (8, 4 and 2 subjets). The student (the backbone plus a DINO
projection head) embeds every view; the teacher (an EMA copy of both, momentum on a cosine schedule from
``ema_start`` to 1, stepped once per optimiser step, no gradients) embeds the global views. The loss is
DINO's: for every pair of a teacher global view and a different student view, the cross-entropy between the
teacher's centred, sharpened distribution ``softmax((t - c) / tau_t)`` and the student's
``log_softmax(s / tau_s)``, averaged over pairs. The centre ``c`` is an EMA (``center_momentum``) of the
teacher's mean output; ``tau_t`` rises linearly from ``teacher_temp_start`` to ``teacher_temp`` over the first
``teacher_temp_warmup`` of the run. Under DDP the teacher's mean output is averaged over the processes before it
updates the centre, so every process keeps the same centre.

The DINO head is an MLP to a bottleneck, L2-normalised, then a prototype layer with unit-norm weight rows
(DINO's weight-normalised last layer with its gain fixed to 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.pretrain.backbone import Backbone
from tagformer.pretrain.config import RINOConfig
from tagformer.pretrain.ema import ema_momentum, ema_update, make_teacher
from tagformer.pretrain.method import PretrainMethod
from tagformer.pretrain.views import check_view_features, make_view


class DINOHead(nn.Module):
    """MLP -> bottleneck -> L2 normalise -> unit-norm prototypes (``out_dim`` logits)."""

    def __init__(self, jet_dim: int, cfg: RINOConfig) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(jet_dim, cfg.head_hidden), nn.GELU(),
                                 nn.Linear(cfg.head_hidden, cfg.head_hidden), nn.GELU(),
                                 nn.Linear(cfg.head_hidden, cfg.bottleneck))
        self.prototypes = nn.Parameter(torch.randn(cfg.out_dim, cfg.bottleneck) / cfg.bottleneck**0.5)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.mlp(embedding), dim=-1)
        return z @ F.normalize(self.prototypes, dim=-1).t()


def teacher_temperature(progress: float, cfg: RINOConfig) -> float:
    """``tau_t`` at run ``progress`` in [0, 1]."""
    if cfg.teacher_temp_warmup <= 0 or progress >= cfg.teacher_temp_warmup:
        return cfg.teacher_temp
    return cfg.teacher_temp_start + (cfg.teacher_temp - cfg.teacher_temp_start) * progress / cfg.teacher_temp_warmup


def dino_loss(student: list[torch.Tensor], teacher: list[torch.Tensor], center: torch.Tensor, student_temp: float,
              teacher_temp: float) -> torch.Tensor:
    """Mean over pairs (teacher global view i, student view j != i) of the cross-entropy; the first
    ``len(teacher)`` student views are the same global views as the teacher's."""
    total, pairs = student[0].new_zeros(()), 0
    for i, t in enumerate(teacher):
        q = F.softmax((t - center) / teacher_temp, dim=-1)
        for j, s in enumerate(student):
            if j == i:
                continue
            total = total + (-q * F.log_softmax(s / student_temp, dim=-1)).sum(dim=-1).mean()
            pairs += 1
    return total / max(pairs, 1)


class RINO(PretrainMethod):
    """Self-distillation across exclusive-kT resolution views (see the module docstring)."""

    name = "rino"
    metric_names = ("loss", "teacher_entropy")

    def __init__(self, backbone: Backbone, cfg: RINOConfig, feature_set: str, num_particles: int,
                 ordering: str = "pt") -> None:
        super().__init__()
        check_view_features(feature_set)
        self.cfg, self.feature_set, self.ordering = cfg, feature_set, ordering
        self.head = DINOHead(backbone.encoder.jet_dim, cfg)
        self.teacher = make_teacher(backbone)
        self.teacher_head = make_teacher(self.head)
        self.register_buffer("center", torch.zeros(cfg.out_dim))
        self.register_buffer("progress", torch.zeros(()))

    def views(self, batch: JetBatch) -> list[JetBatch]:
        return [make_view(batch, n, self.feature_set, self.ordering)
                for n in [*self.cfg.global_views, *self.cfg.local_views]]

    def loss(self, backbone: Backbone, batch: JetBatch,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        views = self.views(batch)
        student = [self.head(backbone.embed(v)).float() for v in views]
        n_global = len(self.cfg.global_views)
        with torch.no_grad():
            was = self.teacher.training
            self.teacher.eval()
            teacher = [self.teacher_head(self.teacher.embed(v)).float() for v in views[:n_global]]
            self.teacher.train(was)
        tau_t = teacher_temperature(float(self.progress), self.cfg)
        total = dino_loss(student, teacher, self.center, self.cfg.student_temp, tau_t)
        with torch.no_grad():
            q = F.softmax((teacher[0] - self.center) / tau_t, dim=-1)
            entropy = -(q * q.clamp_min(1e-12).log()).sum(dim=-1).mean()
            if self.training:
                mean = torch.cat(teacher).mean(dim=0)
                if torch.distributed.is_available() and torch.distributed.is_initialized():  # one centre for DDP
                    torch.distributed.all_reduce(mean)
                    mean = mean / torch.distributed.get_world_size()
                self.center.mul_(self.cfg.center_momentum).add_(mean, alpha=1 - self.cfg.center_momentum)
        return total, {"loss": total.detach(), "teacher_entropy": entropy}

    def after_step(self, backbone: Backbone, step: int, total: int) -> None:
        momentum = ema_momentum(step, total, self.cfg.ema_start, self.cfg.ema_end)
        ema_update(self.teacher, backbone, momentum)
        ema_update(self.teacher_head, self.head, momentum)
        self.progress.fill_(min((step + 1) / max(total, 1), 1.0))
