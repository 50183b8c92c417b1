"""Jet classification: cross entropy on class logits, accuracy as the metric."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.heads import ClassificationHead
from tagformer.tasks.base import LABELS, Task, weighted_mean


class ClassificationTask(Task):
    """Classify each jet into one of ``num_classes`` classes.

    Parameters
    ----------
    num_classes : C, the width of the head's logits.
    name : the head name (``"classification"``, the head :func:`~tagformer.models.registry.create_model`
        builds).
    target_name : ``"labels"`` (default) or a key of ``batch.targets`` holding (B,) int64 class indices.
    weight : factor of this loss in the total.

    The loss is the cross entropy per jet, averaged with the per-jet ``batch.weight`` when present; the
    metric ``acc`` is the unweighted fraction of jets whose arg-max logit is the target class.
    """

    metric_names: ClassVar[tuple[str, ...]] = ("acc",)

    def __init__(self, num_classes: int, name: str = "classification", target_name: str = LABELS,
                 weight: float = 1.0) -> None:
        super().__init__(name, target_name, weight)
        if num_classes < 2:
            raise ValueError(f"a classification task needs at least 2 classes, got {num_classes}")
        self.num_classes = int(num_classes)

    def build_head(self, jet_dim: int) -> nn.Module:
        return ClassificationHead(jet_dim, self.num_classes)

    def loss(self, output: torch.Tensor, batch: JetBatch) -> torch.Tensor:
        per_jet = F.cross_entropy(output.float(), self.target(batch), reduction="none")
        return weighted_mean(per_jet, batch.weight)

    def metrics(self, output: torch.Tensor, batch: JetBatch) -> dict[str, torch.Tensor]:
        return {"acc": (output.argmax(-1) == self.target(batch)).float().mean()}
