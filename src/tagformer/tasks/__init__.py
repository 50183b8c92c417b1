"""Tasks: what a tagger is trained to predict, each with its head, target, loss and metrics.

A :class:`~tagformer.tasks.base.Task` names a head of the :class:`~tagformer.models.tagger.Tagger`, builds
that head from the encoder's jet embedding width, reads its target from the
:class:`~tagformer.data.batch.JetBatch`, and turns the head's output into a loss and per-batch metrics.
The training module sums the tasks' weighted losses; it knows no loss of its own.
"""

from __future__ import annotations

from tagformer.tasks.base import Task, build_heads, weighted_mean
from tagformer.tasks.build import attach_heads, bind_heads, build_tasks, fit_target_stats, gather_targets, target_names
from tagformer.tasks.classification import ClassificationTask
from tagformer.tasks.regression import RegressionTask

__all__ = ["ClassificationTask", "RegressionTask", "Task", "attach_heads", "bind_heads", "build_heads", "build_tasks",
           "fit_target_stats", "gather_targets", "target_names", "weighted_mean"]
