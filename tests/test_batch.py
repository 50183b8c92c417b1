from __future__ import annotations

import pytest
import torch

from jetfactory import random_jets
from tagformer.data.batch import JetBatch


def test_random_jets_follow_contract():
    b = random_jets(batch=6, particles=10, features=4).validate()
    assert len(b) == 6 and b.num_particles == 10
    assert b.mask.dtype == torch.bool and b.mask[:, 0].all()


def test_select_and_replace_keep_alignment():
    b = random_jets(batch=5, particles=8)
    sub = b.select(torch.tensor([4, 0]))
    assert torch.equal(sub.features[0], b.features[4]) and torch.equal(sub.mask[1], b.mask[0])
    assert torch.equal(sub.labels, b.labels[[4, 0]])
    assert b.replace(labels=None).labels is None and b.labels is not None


def test_to_moves_all_tensors():
    b = random_jets().to("cpu")
    assert b.features.device.type == "cpu" and b.jet is None


@pytest.mark.parametrize(
    "field,value",
    [("p4", torch.zeros(4, 16, 3)), ("mask", torch.ones(4, 16)), ("labels", torch.zeros(3, dtype=torch.long))],
)
def test_validate_rejects_bad_shapes(field, value):
    with pytest.raises(ValueError, match=field):
        random_jets().replace(**{field: value}).validate()


def test_batch_is_a_dataclass_of_tensors():
    b = JetBatch(features=torch.zeros(1, 2, 3), p4=torch.zeros(1, 2, 4), mask=torch.ones(1, 2, dtype=torch.bool))
    assert b.labels is None and b.weight is None and len(b) == 1


def test_named_targets_follow_select_to_and_replace():
    b = random_jets(batch=5, particles=8)
    b = b.replace(targets={"mass": torch.arange(5.0), "flavour": torch.tensor([0, 1, 0, 1, 1])}).validate()
    sub = b.select(torch.tensor([4, 0]))
    assert torch.equal(sub.targets["mass"], torch.tensor([4.0, 0.0]))
    assert torch.equal(sub.targets["flavour"], torch.tensor([1, 0]))
    moved = b.to("meta")
    assert all(v.device.type == "meta" for v in moved.targets.values())
    assert b.targets["mass"].device.type == "cpu"  # a copy, the original is untouched
    assert b.replace(targets=None).targets is None


def test_validate_rejects_targets_of_another_batch_size():
    with pytest.raises(ValueError, match=r"targets\['mass'\]"):
        random_jets(batch=4).replace(targets={"mass": torch.zeros(3)}).validate()
