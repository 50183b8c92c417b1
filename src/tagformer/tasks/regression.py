"""Per-jet regression (e.g. the jet mass): a :class:`RegressionHead` whose loss is taken on the standardised
scale, with the standardisation stored in the head's buffers (so it travels with the weights)."""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import DataError
from tagformer.models.heads import RegressionHead
from tagformer.tasks.base import Task, weighted_mean

LossName = Literal["huber", "l1", "mse"]
LOSSES: tuple[str, ...] = ("huber", "l1", "mse")
#: Huber's switch from quadratic to linear, in units of the target's standard deviation.
HUBER_DELTA = 1.0


def target_stats(values: torch.Tensor, log_target: bool = False) -> tuple[float, float]:
    """(mean, std) of ``values`` (of ``log(values)`` when ``log_target``), over the finite entries.

    Raises :class:`DataError` when no value is usable (none finite, or none > 0 for ``log_target``) or the
    values do not vary (std 0: nothing to regress).
    """
    v = torch.as_tensor(values).detach().reshape(-1).double()
    keep = torch.isfinite(v) & (v > 0 if log_target else True)
    v = v[keep]
    if v.numel() == 0:
        need = "finite and > 0 (log_target)" if log_target else "finite"
        raise DataError(f"no regression target value is {need}; check the data's targets")
    if log_target:
        v = v.log()
    std = float(v.std(unbiased=False)) if v.numel() > 1 else 0.0
    if not std > 0:
        raise DataError(f"the regression target is constant ({float(v[0]):g}) over {v.numel()} jets; "
                        "there is nothing to regress")
    return float(v.mean()), std


class RegressionTask(Task):
    """Regress one per-jet value (default: ``batch.targets["mass"]``, in GeV).

    Parameters
    ----------
    name : the head name.
    target_name : the key of ``batch.targets`` holding the (B,) float target.
    loss : ``huber`` (delta 1 standard deviation), ``l1`` or ``mse``, on the standardised scale
        ``(t - mean) / std`` (of ``log t`` when ``log_target``).
    log_target : regress ``log(target)``; the head still returns the physical value (``exp``).
    weight : factor of this loss in the total.
    hidden : width of the head's hidden layer (0: one linear map).

    The head (:class:`~tagformer.models.heads.RegressionHead`) returns physical values (B, 1); the loss maps
    them and the target back to the standardised scale with the statistics in the head's buffers, so
    :meth:`fit_target_stats` (or ``head.set_target_stats``) must set them from the training targets before
    training. Jets with a non-finite target (or one <= 0 with ``log_target``) are left out of the loss.
    Metrics: ``mae`` (mean |prediction - target| in the target's units) and ``rel_res`` (the standard
    deviation of prediction / target, a cheap per-batch proxy for the resolution), both unweighted.
    """

    metric_names: ClassVar[tuple[str, ...]] = ("mae", "rel_res")

    def __init__(self, name: str = "regression", target_name: str = "mass", loss: LossName = "huber",
                 log_target: bool = False, weight: float = 1.0, hidden: int = 0) -> None:
        super().__init__(name, target_name, weight)
        if loss not in LOSSES:
            raise ValueError(f"unknown regression loss {loss!r}; choose one of {', '.join(LOSSES)}")
        if hidden < 0:
            raise ValueError(f"hidden must be >= 0, got {hidden}")
        self.loss_name = loss
        self.log_target = bool(log_target)
        self.hidden = int(hidden)
        self._head: RegressionHead | None = None

    def __repr__(self) -> str:
        return (f"RegressionTask(name={self.name!r}, target={self.target_name!r}, loss={self.loss_name!r}, "
                f"log_target={self.log_target}, weight={self.weight})")

    def build_head(self, jet_dim: int) -> nn.Module:
        """A fresh head; this task keeps it to read the standardisation its loss uses."""
        self._head = RegressionHead(jet_dim, 1, hidden=self.hidden, log_target=self.log_target)
        return self._head

    def bind(self, head: nn.Module) -> None:
        """Use ``head`` (a :class:`RegressionHead` built elsewhere, e.g. loaded from a run) for the statistics."""
        if not isinstance(head, RegressionHead) or head.log_target != self.log_target:
            raise ValueError(f"task {self.name!r} needs a RegressionHead with log_target={self.log_target}, "
                             f"got {head!r}")
        self._head = head

    @property
    def head(self) -> RegressionHead:
        if self._head is None:
            raise RuntimeError(f"task {self.name!r} has no head: call build_head (or bind) first")
        return self._head

    def fit_target_stats(self, values: torch.Tensor) -> tuple[float, float]:
        """Set the head's standardisation from the training split's target ``values``; returns (mean, std)."""
        mean, std = target_stats(values, self.log_target)
        self.head.set_target_stats(mean, std)
        return mean, std

    def _valid(self, target: torch.Tensor) -> torch.Tensor:
        return torch.isfinite(target) & (target > 0) if self.log_target else torch.isfinite(target)

    def loss(self, output: torch.Tensor, batch: JetBatch) -> torch.Tensor:
        target = self.target(batch).float()
        pred = output.float().reshape(target.shape)
        valid = self._valid(target)
        head = self.head
        z_pred = head.to_standard(pred.unsqueeze(-1)).squeeze(-1)
        z_true = head.to_standard(torch.where(valid, target, torch.ones_like(target)).unsqueeze(-1)).squeeze(-1)
        z_true = torch.where(valid, z_true, z_pred.detach())
        if self.loss_name == "huber":
            per_jet = F.huber_loss(z_pred, z_true, reduction="none", delta=HUBER_DELTA)
        elif self.loss_name == "l1":
            per_jet = (z_pred - z_true).abs()
        else:
            per_jet = (z_pred - z_true).square()
        weight = valid.float() if batch.weight is None else batch.weight * valid
        return weighted_mean(per_jet, weight)

    def metrics(self, output: torch.Tensor, batch: JetBatch) -> dict[str, torch.Tensor]:
        target = self.target(batch).float()
        pred = output.float().reshape(target.shape)
        valid = self._valid(target) & (target != 0)
        n = valid.sum().clamp_min(1)
        err = torch.where(valid, (pred - target).abs(), torch.zeros_like(target))
        ratio = torch.where(valid, pred / torch.where(valid, target, torch.ones_like(target)), torch.zeros_like(target))
        mean = ratio.sum() / n
        var = torch.where(valid, (ratio - mean).square(), torch.zeros_like(target)).sum() / n
        return {"mae": err.sum() / n, "rel_res": var.sqrt()}
