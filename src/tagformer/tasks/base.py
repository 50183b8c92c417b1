"""The task interface: a named head, its target in the batch, a loss and metrics (salt/hepattn style)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import TagformerError

#: ``jet``: one target and output row per jet; ``particle``: one per particle (outputs (B, N, ...)).
Level = Literal["jet", "particle"]

#: Target name that means ``batch.labels`` (every other name is looked up in ``batch.targets``).
LABELS = "labels"


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of per-jet ``values`` (B,), weighted by ``weight`` (B,) when given (sum(w v) / sum(w))."""
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(1e-12)


class Task(ABC):
    """One thing a tagger is trained to predict.

    Attributes
    ----------
    name : the head of the :class:`~tagformer.models.tagger.Tagger` this task reads (``tagger.heads[name]``);
        also the prefix of its logged metrics when a module trains several tasks.
    target_name : where the target is: ``"labels"`` (``batch.labels``) or a key of ``batch.targets``.
    weight : factor of this task's loss in the total loss.
    level : ``"jet"`` or ``"particle"`` (what one row of the target and the output describes).
    metric_names : the keys :meth:`metrics` returns, in logging order (known before the first batch, so
        metric files get their columns up front).
    """

    level: ClassVar[Level] = "jet"
    metric_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, target_name: str, weight: float = 1.0) -> None:
        if not name or not name.isidentifier():
            raise ValueError(f"task name must be an identifier (it names a head), got {name!r}")
        if not weight >= 0:
            raise ValueError(f"task weight must be >= 0, got {weight}")
        self.name = name
        self.target_name = target_name
        self.weight = float(weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, target={self.target_name!r}, weight={self.weight})"

    @abstractmethod
    def build_head(self, jet_dim: int) -> nn.Module:
        """A fresh head mapping the jet embedding (B, ``jet_dim``) to this task's output."""

    def target(self, batch: JetBatch) -> torch.Tensor:
        """This task's target from ``batch``; :class:`TagformerError` naming the task if the batch lacks it."""
        if self.target_name == LABELS:
            value = batch.labels
        else:
            value = (batch.targets or {}).get(self.target_name)
        if value is None:
            have = ([LABELS] if batch.labels is not None else []) + sorted(batch.targets or {})
            raise TagformerError(f"task {self.name!r} needs the target {self.target_name!r} but the batch has "
                                 f"{', '.join(have) or 'no targets'}; the training data must provide it")
        return value

    @abstractmethod
    def loss(self, output: torch.Tensor, batch: JetBatch) -> torch.Tensor:
        """Scalar loss of the head's ``output`` against :meth:`target`, weighted by ``batch.weight`` if set."""

    @abstractmethod
    def metrics(self, output: torch.Tensor, batch: JetBatch) -> dict[str, torch.Tensor]:
        """Per-batch metric values (0-d tensors, keys :attr:`metric_names`); no host synchronisation."""


def build_heads(tasks: Sequence[Task], jet_dim: int) -> dict[str, nn.Module]:
    """``{task.name: task.build_head(jet_dim)}`` for a :class:`~tagformer.models.tagger.Tagger`; names unique."""
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {names}")
    return {t.name: t.build_head(jet_dim) for t in tasks}
