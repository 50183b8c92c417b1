"""Stopping bad trials early in a multi-objective search.

Optuna's pruners read ``Trial.report`` values, which Optuna does not support for studies with several
objectives. The search therefore applies its own rule, Pareto-aware so that a cheap model is never stopped
merely for being less accurate than expensive ones:

    at epoch ``e >= warmup_epochs`` a trial is pruned when at least ``dominated_by`` finished trials had, at
    the same epoch, a strictly better monitored validation value (``val_acc`` or ``val_loss``) while being no
    worse in every cost objective of the search (FLOPs, parameters, latency, ...).

Finished trials publish their per-epoch curve (``curve`` user attribute); :class:`PruningCallback` checks the
rule at the end of every validation epoch of a running trial and asks Lightning to stop (the run directory
then holds a normal, shorter run and the trial is told ``PRUNED``).

The callback needs the training harness to accept extra callbacks (``train(..., extra_callbacks=[...])``);
:func:`harness_takes_callbacks` says whether this version does. Without it trials train their full budget and
the curves are still recorded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L

#: The keyword of :func:`tagformer.train.run.train` that takes extra Lightning callbacks.
CALLBACKS_ARG = "extra_callbacks"


@dataclass(frozen=True)
class Peer:
    """A finished trial as the rule sees it: its curve (epoch -> monitored value) and its cost metrics."""

    curve: Mapping[int, float]
    costs: Mapping[str, float]


def _better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def _no_worse(a: float, b: float, maximize: bool) -> bool:
    return a >= b if maximize else a <= b


def dominating_peers(epoch: int, value: float, costs: Mapping[str, float], peers: Sequence[Peer], *,
                     maximize_monitor: bool, cost_directions: Mapping[str, bool]) -> int:
    """How many ``peers`` were strictly better at ``epoch`` and no worse in every cost.

    ``cost_directions`` maps each cost objective to True when larger is better (``throughput``).
    """
    count = 0
    for peer in peers:
        theirs = peer.curve.get(epoch)
        if theirs is None or not _better(theirs, value, maximize_monitor):
            continue
        if all(name in peer.costs and _no_worse(peer.costs[name], costs[name], up)
               for name, up in cost_directions.items()):
            count += 1
    return count


def should_prune(epoch: int, value: float, costs: Mapping[str, float], peers: Sequence[Peer], *, warmup_epochs: int,
                 dominated_by: int, maximize_monitor: bool, cost_directions: Mapping[str, bool]) -> bool:
    """The rule of the module docstring."""
    if epoch < warmup_epochs:
        return False
    return dominating_peers(epoch, value, costs, peers, maximize_monitor=maximize_monitor,
                            cost_directions=cost_directions) >= dominated_by


class PruningCallback(L.Callback):
    """Record the monitored validation value of each epoch and stop training when ``decide(epoch, value)``.

    Attributes
    ----------
    monitor : ``val_acc`` or ``val_loss`` (a key of ``trainer.callback_metrics``).
    decide : the rule, given the epoch and the value.
    curve : epoch -> value, filled as training goes.
    pruned_at : the epoch after which training was stopped, or None.
    """

    def __init__(self, monitor: str, decide: Callable[[int, float], bool]) -> None:
        super().__init__()
        self.monitor = monitor
        self.decide = decide
        self.curve: dict[int, float] = {}
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        epoch = int(trainer.current_epoch)
        value = float(trainer.callback_metrics[self.monitor])
        self.curve[epoch] = value
        if self.pruned_at is None and self.decide(epoch, value):
            self.pruned_at = epoch
            trainer.should_stop = True


def harness_takes_callbacks(train: Callable[..., Any] | None = None) -> bool:
    """Whether :func:`tagformer.train.run.train` (or ``train``) accepts ``extra_callbacks``."""
    if train is None:
        from tagformer.train.run import train as harness

        train = harness
    return CALLBACKS_ARG in inspect.signature(train).parameters
