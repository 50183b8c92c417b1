"""Regression task: standardised losses by hand, the head's buffers, training on tiny data, multi-task weights,
tasks from the run config, and clear errors for missing targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jetfactory import random_jets
from tagformer.config import OptimConfig, RunConfig, ScheduleConfig
from tagformer.data.batch import JetBatch
from tagformer.errors import ConfigError, DataError, TagformerError
from tagformer.models.heads import RegressionHead
from tagformer.models.registry import create_model
from tagformer.tasks import (
    ClassificationTask,
    RegressionTask,
    attach_heads,
    bind_heads,
    build_tasks,
    fit_target_stats,
    gather_targets,
    target_names,
)
from tagformer.tasks.regression import target_stats
from tagformer.train.module import TaggerModule


def _batch(mass: list[float], weight: list[float] | None = None) -> JetBatch:
    b = random_jets(batch=len(mass), seed=3)
    return b.replace(targets={"mass": torch.tensor(mass)},
                     weight=None if weight is None else torch.tensor(weight))


def _task(loss: str = "huber", log_target: bool = False, mean: float = 50.0, std: float = 10.0) -> RegressionTask:
    task = RegressionTask(loss=loss, log_target=log_target)
    head = task.build_head(4)
    head.set_target_stats(mean, std)
    return task


@pytest.mark.parametrize(("loss", "expected"), [("huber", (0.5 * 1 + 2 - 0.5) / 3), ("l1", (1 + 0 + 2) / 3),
                                                ("mse", (1 + 0 + 4) / 3)])
def test_loss_is_taken_on_the_standardised_scale(loss, expected):
    # std 10 GeV: predictions off by 10, 0 and 20 GeV are 1, 0 and 2 standard deviations away
    task = _task(loss)
    output = torch.tensor([[60.0], [80.0], [30.0]])
    batch = _batch([50.0, 80.0, 50.0])
    assert float(task.loss(output, batch)) == pytest.approx(expected)
    weighted = _batch([50.0, 80.0, 50.0], weight=[3.0, 1.0, 0.0])
    per_jet = {"huber": 0.5, "l1": 1.0, "mse": 1.0}[loss]
    assert float(task.loss(output, weighted)) == pytest.approx(3 * per_jet / 4)


def test_log_target_loss_and_head_output():
    task = _task("mse", log_target=True, mean=math.log(50.0), std=0.5)
    output = torch.tensor([[50.0 * math.exp(0.5)], [50.0]])
    assert float(task.loss(output, _batch([50.0, 50.0]))) == pytest.approx(0.5, rel=1e-5)  # z off by 1 and 0
    head = task.head
    torch.nn.init.zeros_(head.net.weight)
    torch.nn.init.zeros_(head.net.bias)
    assert torch.allclose(head(torch.randn(2, 4)), torch.full((2, 1), 50.0))  # exp(mean): physical GeV


def test_jets_without_a_usable_target_are_left_out_of_the_loss():
    task = _task("l1")
    out = task.loss(torch.tensor([[60.0], [0.0]]), _batch([50.0, float("nan")]))
    assert float(out) == pytest.approx(1.0)
    log_task = _task("l1", log_target=True, mean=0.0, std=1.0)
    assert float(log_task.loss(torch.tensor([[math.e], [5.0]]), _batch([1.0, -3.0]))) == pytest.approx(1.0, rel=1e-5)


def test_metrics_mae_and_relative_spread():
    task = _task()
    m = task.metrics(torch.tensor([[60.0], [90.0]]), _batch([50.0, 100.0]))
    assert float(m["mae"]) == pytest.approx(10.0)
    assert float(m["rel_res"]) == pytest.approx(np.std([1.2, 0.9]))
    assert set(m) == set(RegressionTask.metric_names)


def test_head_stats_are_buffers_saved_with_the_weights():
    head = RegressionHead(4, log_target=True)
    head.set_target_stats(4.0, 0.7)
    state = head.state_dict()
    assert float(state["target_mean"]) == 4.0 and float(state["target_std"]) == pytest.approx(0.7)
    other = RegressionHead(4, log_target=True)
    other.load_state_dict(state)
    x = torch.randn(3, 4)
    other.net.load_state_dict(head.net.state_dict())
    torch.testing.assert_close(other(x), head(x))
    torch.testing.assert_close(head.to_standard(head(x)), head.standardised(x))
    with pytest.raises(ValueError, match="std > 0"):
        head.set_target_stats(0.0, 0.0)


def test_target_stats_from_training_values():
    mean, std = target_stats(torch.tensor([10.0, 30.0, float("nan")]))
    assert (mean, std) == (20.0, 10.0)
    mean, std = target_stats(torch.tensor([math.e, math.e ** 3, -1.0]), log_target=True)
    assert mean == pytest.approx(2.0) and std == pytest.approx(1.0)
    with pytest.raises(DataError, match="constant"):
        target_stats(torch.tensor([5.0, 5.0]))
    with pytest.raises(DataError, match="> 0"):
        target_stats(torch.tensor([-1.0, 0.0]), log_target=True)


class _MassJets(torch.utils.data.Dataset):
    """Jets whose 'mass' is a simple function of the inputs: 40 GeV per unit of the leading log-pT plus 10 GeV
    per particle; labels from the multiplicity."""

    def __init__(self, batches: int = 8, size: int = 32) -> None:
        self.batches = []
        for i in range(batches):
            b = random_jets(batch=size, particles=8, classes=3, seed=100 + i)
            mass = 40.0 * b.features[:, 0, 0] + 10.0 * b.mask.sum(1).float()
            self.batches.append(b.replace(labels=(b.mask.sum(1) % 3).long(), targets={"mass": mass}))

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> JetBatch:
        return self.batches[i]


def _tagger(tasks):
    torch.manual_seed(0)
    model = create_model("transformer_tiny", num_classes=3, in_features=3, num_particles=8, num_layers=1)
    return attach_heads(model, tasks)


def test_the_regression_head_trains_on_tiny_data():
    data = _MassJets()
    task = RegressionTask(loss="mse")
    model = _tagger([task])
    assert list(model.heads) == ["regression"] and model.primary == "regression"
    stats = fit_target_stats([task], gather_targets(data, ["mass"]))
    assert stats["regression"]["std"] > 0
    model.input_norm.set_stats(torch.tensor([5.0, 0.0, 0.0]), torch.tensor([1.0, 0.2, 0.2]))

    def mean_loss() -> float:
        with torch.no_grad():
            return float(np.mean([float(task.loss(model.forward_heads(b)["regression"], b)) for b in data]))

    before = mean_loss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        for b in data:
            opt.zero_grad()
            task.loss(model.forward_heads(b)["regression"], b).backward()
            opt.step()
    after = mean_loss()
    assert after < 0.3 * before, (before, after)
    with torch.no_grad():
        mae = float(np.mean([float(task.metrics(model(b), b)["mae"]) for b in data]))
    assert mae < 0.5 * float(torch.cat([b.targets["mass"] for b in data]).std())  # well under the spread


def _module(weight: float) -> TaggerModule:
    tasks = [ClassificationTask(3), RegressionTask(loss="huber", weight=weight)]
    model = _tagger(tasks)
    fit_target_stats(tasks, gather_targets(_MassJets(), ["mass"]))
    return TaggerModule(model, tasks, OptimConfig(lr=1e-3), ScheduleConfig(name="constant", warmup_fraction=0.0))


def test_multi_task_loss_weights_act():
    batch = _MassJets()[0]
    totals = {}
    for w in (0.0, 1.0, 2.0):
        module = _module(w)
        total, values = module._step(batch)
        totals[w] = float(total.detach())
        reg_loss = float(values["regression_loss"])
        assert totals[w] == pytest.approx(float(values["classification_loss"]) + w * reg_loss, rel=1e-6)
        if w == 0.0:
            total.backward()
            head = module.model.heads["regression"]
            assert all(p.grad is None or not p.grad.any() for p in head.parameters())
            assert any(p.grad is not None and p.grad.any() for p in module.model.heads["classification"].parameters())
    assert reg_loss > 0
    assert totals[2.0] - totals[0.0] == pytest.approx(2 * (totals[1.0] - totals[0.0]), rel=1e-5)


def test_tasks_from_the_run_config():
    cfg = RunConfig.model_validate({"data": {"path": "x.h5"}, "tasks": [
        {"kind": "classification"}, {"kind": "regression", "loss": "l1", "log_target": True, "weight": 0.5,
                                     "hidden": 8}]})
    tasks = build_tasks(cfg.tasks, num_classes=5)
    assert [type(t) for t in tasks] == [ClassificationTask, RegressionTask]
    reg = tasks[1]
    assert (reg.name, reg.target_name, reg.loss_name, reg.log_target, reg.weight, reg.hidden) == \
        ("regression", "mass", "l1", True, 0.5, 8)
    assert target_names(cfg.tasks) == ["mass"] and cfg.data.targets == ["mass"]
    torch.manual_seed(0)
    base = create_model("transformer_tiny", num_classes=5, in_features=3, num_particles=8)
    model = attach_heads(base, tasks)
    assert model.heads["classification"] is base.heads["classification"] and model.primary == "classification"
    assert isinstance(model.heads["regression"], RegressionHead) and model.heads["regression"].log_target
    assert reg.head is model.heads["regression"]
    fresh = build_tasks(cfg.tasks, num_classes=5)
    bind_heads(model, fresh)
    assert fresh[1].head is model.heads["regression"]
    default = build_tasks(RunConfig.model_validate({"data": {"path": "x.h5"}}).tasks, num_classes=5)
    assert attach_heads(base, default) is base  # classification-only: the model of before, untouched
    with pytest.raises(ConfigError, match="class labels"):
        build_tasks([type("C", (), {"kind": "regression", "head_name": "r", "target_name": "labels"})()], 5)


def test_a_missing_target_names_the_available_ones():
    task = _task()
    batch = random_jets(batch=2).replace(targets={"pt": torch.ones(2), "sdmass": torch.ones(2)})
    with pytest.raises(TagformerError, match="needs the target 'mass' but the batch has labels, pt, sdmass"):
        task.loss(torch.ones(2, 1), batch)
    with pytest.raises(DataError, match="no target 'mass'; available targets: pt, sdmass"):
        gather_targets([batch], ["mass"])
    with pytest.raises(DataError, match="training data have pt"):
        fit_target_stats([task], {"pt": np.ones(3)})
    with pytest.raises(RuntimeError, match="build_head"):
        _ = RegressionTask().head
