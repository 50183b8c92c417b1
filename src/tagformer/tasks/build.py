"""Tasks from a run's ``tasks:`` list, the tagger heads they need, and their target statistics.

The task entries are read by attribute (``kind``, ``head_name``, ``target_name``, ``weight``, ``loss``,
``log_target``, ``hidden``: :class:`tagformer.config.TaskConfig`), so this module does not import the
configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from tagformer.data.batch import JetBatch
from tagformer.errors import ConfigError, DataError
from tagformer.models.tagger import Tagger
from tagformer.tasks.base import LABELS, Task, build_heads
from tagformer.tasks.classification import ClassificationTask
from tagformer.tasks.regression import RegressionTask

if TYPE_CHECKING:
    from tagformer.config import TaskConfig

#: The head :func:`tagformer.models.registry.create_model` builds.
DEFAULT_HEAD = "classification"


def build_tasks(task_configs: Sequence[TaskConfig | Any], num_classes: int) -> list[Task]:
    """One :class:`Task` per entry of the run's ``tasks`` list, in order (classification into
    ``num_classes`` classes; regression with its loss, log scale, weight and hidden width)."""
    tasks: list[Task] = []
    for cfg in task_configs:
        if cfg.kind == "classification":
            tasks.append(ClassificationTask(num_classes, name=cfg.head_name, target_name=cfg.target_name,
                                            weight=cfg.weight))
        elif cfg.kind == "regression":
            if cfg.target_name == LABELS:
                raise ConfigError(f"regression task {cfg.head_name!r} cannot regress the class labels; "
                                  "set its target to a per-jet quantity (e.g. mass)")
            tasks.append(RegressionTask(name=cfg.head_name, target_name=cfg.target_name, loss=cfg.loss,
                                        log_target=cfg.log_target, weight=cfg.weight, hidden=cfg.hidden))
        else:
            raise ConfigError(f"unknown task kind {cfg.kind!r}; choose classification or regression")
    if not tasks:
        raise ConfigError("no tasks given; the run needs at least one")
    return tasks


def target_names(task_configs: Sequence[TaskConfig | Any]) -> list[str]:
    """The per-jet targets (``batch.targets`` keys) the tasks read, in order, without duplicates."""
    out: list[str] = []
    for cfg in task_configs:
        if cfg.target_name != LABELS and cfg.target_name not in out:
            out.append(cfg.target_name)
    return out


def regression_tasks(tasks: Sequence[Task]) -> list[RegressionTask]:
    return [t for t in tasks if isinstance(t, RegressionTask)]


def _is_default(tasks: Sequence[Task], model: Tagger) -> bool:
    """``tasks`` are exactly the one classification head the model already has."""
    if len(tasks) != 1 or not isinstance(tasks[0], ClassificationTask) or tasks[0].name != DEFAULT_HEAD:
        return False
    head = model.heads[DEFAULT_HEAD] if DEFAULT_HEAD in model.heads else None
    return getattr(head, "num_classes", None) == tasks[0].num_classes and list(model.heads) == [DEFAULT_HEAD]


def attach_heads(model: Tagger, tasks: Sequence[Task]) -> Tagger:
    """``model`` with one head per task (same encoder and input normalisation).

    A classification task named like the model's existing head with the same number of classes keeps that
    head (so a classification-only run builds, and draws random numbers for, exactly the model it always
    did: ``model`` itself is returned); the other heads are built fresh, in task order. The primary head
    (what ``model(batch)`` returns, and what export sees) is the first classification task's, else the first
    task's. Regression tasks keep a reference to their head (its buffers hold the target standardisation).
    """
    if _is_default(tasks, model):
        return model
    jet_dim = model.encoder.jet_dim
    fresh = build_heads(tasks, jet_dim)  # checks unique names; binds regression tasks to their heads
    heads = {}
    for task in tasks:
        old = model.heads[task.name] if task.name in model.heads else None
        same = isinstance(task, ClassificationTask) and getattr(old, "num_classes", None) == task.num_classes
        heads[task.name] = old if same else fresh[task.name]
    classifiers = [t.name for t in tasks if isinstance(t, ClassificationTask)]
    return model.replace_heads(heads, primary=(classifiers or [tasks[0].name])[0])


def bind_heads(model: Tagger, tasks: Sequence[Task]) -> None:
    """Point every regression task at ``model``'s head of its name (e.g. after loading a run)."""
    for task in regression_tasks(tasks):
        if task.name not in model.heads:
            raise ConfigError(f"the model has no head {task.name!r} for regression task {task.name!r}")
        task.bind(model.heads[task.name])


def gather_targets(batches: Iterable[JetBatch], names: Sequence[str], max_jets: int | None = None
                   ) -> dict[str, np.ndarray]:
    """The named per-jet targets of ``batches`` (up to ``max_jets`` jets), concatenated as float64 arrays.

    Raises :class:`DataError` naming the available targets when a batch lacks one.
    """
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    seen = 0
    for batch in batches:
        targets = batch.targets or {}
        missing = [n for n in names if n not in targets]
        if missing:
            raise DataError(f"the data have no target {', '.join(map(repr, missing))}; available targets: "
                            f"{', '.join(sorted(targets)) or 'none'}")
        take = len(batch) if max_jets is None else min(len(batch), max_jets - seen)
        for n in names:
            parts[n].append(targets[n][:take].detach().cpu().double().numpy().reshape(take, -1)[:, 0])
        seen += take
        if max_jets is not None and seen >= max_jets:
            break
    return {n: (np.concatenate(v) if v else np.zeros(0)) for n, v in parts.items()}


def fit_target_stats(tasks: Sequence[Task], targets: Mapping[str, np.ndarray | torch.Tensor]
                     ) -> dict[str, dict[str, float]]:
    """Set every regression task's head standardisation from the training ``targets`` ({name: values});
    returns ``{task name: {"mean", "std", "log_target"}}`` (for the run's summary)."""
    out: dict[str, dict[str, float]] = {}
    for task in regression_tasks(tasks):
        if task.target_name not in targets:
            raise DataError(f"regression task {task.name!r} needs the target {task.target_name!r} but the "
                            f"training data have {', '.join(sorted(targets)) or 'no targets'}")
        mean, std = task.fit_target_stats(torch.as_tensor(np.asarray(targets[task.target_name])))
        out[task.name] = {"mean": mean, "std": std, "log_target": task.log_target}
    return out
