"""The Pareto-aware pruning rule, its Lightning callback, constraints and dominance (no training)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from tagformer.errors import ConfigError
from tagformer.search.constraints import parse_constraint
from tagformer.search.pareto import dominates, dominating, front
from tagformer.search.pruning import Peer, PruningCallback, harness_takes_callbacks, should_prune

RULE = {"warmup_epochs": 1, "dominated_by": 2, "maximize_monitor": True, "cost_directions": {"flops": False}}


def test_a_trial_is_pruned_only_when_enough_cheaper_peers_were_better_at_the_same_epoch() -> None:
    cheap_good = Peer({0: 0.5, 1: 0.7}, {"flops": 100.0})
    costly_good = Peer({0: 0.6, 1: 0.9}, {"flops": 1e6})
    mine = {"flops": 1000.0}
    assert not should_prune(0, 0.1, mine, [cheap_good, cheap_good], **RULE)  # warm-up epoch
    assert should_prune(1, 0.6, mine, [cheap_good, cheap_good], **RULE)
    assert not should_prune(1, 0.6, mine, [cheap_good], **RULE)  # one dominating peer is not enough
    # more accurate but more costly peers never prune a cheap model
    assert not should_prune(1, 0.6, mine, [costly_good] * 5, **RULE)
    # a peer without that epoch (stopped earlier) does not count
    assert not should_prune(2, 0.6, mine, [cheap_good] * 5, **RULE)
    loss_rule = {**RULE, "maximize_monitor": False}
    assert should_prune(1, 0.8, mine, [cheap_good, cheap_good], **loss_rule)  # loss: lower is better
    assert not should_prune(1, 0.5, mine, [cheap_good, cheap_good], **loss_rule)


def test_callback_records_the_curve_and_stops_the_trainer() -> None:
    calls = []

    def decide(epoch: int, value: float) -> bool:
        calls.append((epoch, value))
        return epoch == 1

    cb = PruningCallback("val_acc", decide)
    trainer = SimpleNamespace(sanity_checking=False, callback_metrics={"val_acc": torch.tensor(0.25)},
                              current_epoch=0, should_stop=False)
    cb.on_validation_end(trainer, None)
    assert not trainer.should_stop and cb.pruned_at is None
    trainer.current_epoch, trainer.callback_metrics = 1, {"val_acc": torch.tensor(0.5)}
    cb.on_validation_end(trainer, None)
    assert trainer.should_stop and cb.pruned_at == 1
    assert cb.curve == {0: 0.25, 1: 0.5} and calls == [(0, 0.25), (1, 0.5)]


def test_harness_check_reads_the_train_signature() -> None:
    def with_callbacks(cfg, run_dir, *, resume=False, extra_callbacks=()):
        return {}

    def without(cfg, run_dir, *, resume=False):
        return {}

    assert harness_takes_callbacks(with_callbacks)
    assert not harness_takes_callbacks(without)
    assert isinstance(harness_takes_callbacks(), bool)  # the installed harness, whichever it is


def test_constraints_are_relative_violations() -> None:
    names = ("latency_ms", "flops", "val_acc")
    upper = parse_constraint("latency_ms < 0.1", names, "x")
    assert upper.satisfied(0.1) and upper.violation(0.05) == pytest.approx(-0.5)
    assert upper.violation(0.2) == pytest.approx(1.0)
    lower = parse_constraint("val_acc >= 0.5", names, "x")
    assert lower.violation(0.25) == pytest.approx(0.5) and lower.satisfied(0.7)
    with pytest.raises(ConfigError, match="unknown metric"):
        parse_constraint("luts <= 10", names, "x")


def test_dominance_and_front() -> None:
    up = [True, False]  # accuracy up, FLOPs down
    pts = [[0.8, 100.0], [0.7, 50.0], [0.6, 200.0], [0.8, 100.0], [0.9, math.inf]]
    assert dominates(pts[0], pts[2], up) and not dominates(pts[0], pts[1], up)
    assert not dominates(pts[0], pts[3], up)  # equal points do not dominate each other
    assert front(pts, up) == [0, 1, 3]  # the non-finite point is never on the front
    assert dominating([0.6, 200.0], pts, up) == [0, 1, 3]
