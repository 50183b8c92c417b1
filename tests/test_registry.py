"""The registry's strictness: unknown names and arguments are errors, presets are data, no **kwargs."""

from __future__ import annotations

import pytest
from torch import nn

from tagformer.errors import ModelError
from tagformer.models import registry
from tagformer.models.registry import Capabilities, register_model


def test_unknown_model_lists_available():
    with pytest.raises(ModelError, match="unknown model or preset 'no_such_model'"):
        registry.resolve("no_such_model")


def test_register_rejects_var_kwargs():
    with pytest.raises(TypeError, match="must not take"):

        @register_model("bad", presets={"bad": {}}, capabilities=Capabilities())
        class Bad(nn.Module):
            def __init__(self, num_classes: int, **kwargs: int) -> None:
                super().__init__()


def test_register_rejects_preset_with_unknown_argument():
    with pytest.raises(TypeError, match="unknown arguments"):

        @register_model("bad2", presets={"bad2": {"width": 3}}, capabilities=Capabilities())
        class Bad2(nn.Module):
            def __init__(self, num_classes: int, in_features: int) -> None:
                super().__init__()


def test_decorator_annotates_without_global_state():
    @register_model("toy", presets={"toy_small": {"dim": 2}, "toy": {"dim": 8}},
                    capabilities={"permutation_invariant": True})
    class Toy(nn.Module):
        def __init__(self, num_classes: int, in_features: int, dim: int = 4) -> None:
            super().__init__()
            self.lin = nn.Linear(in_features * dim, num_classes)

    entry = Toy.__tagformer_entry__
    assert entry.smallest == "toy_small"
    assert entry.default == "toy"
    assert entry.arguments == ("num_classes", "in_features", "dim")
    assert "toy" not in registry.list_models()  # test-local classes never leak into the registry
    with pytest.raises(TypeError):
        entry.presets["toy"]["dim"] = 3  # presets are read-only data


def test_every_registered_model_has_valid_presets():
    for entry in registry.list_entries():
        assert entry.smallest in entry.presets
        assert entry.default in entry.presets
        for preset in entry.presets:
            assert registry.resolve(preset)[0] is entry


def test_override_of_nonexistent_argument_is_an_error():
    names = registry.list_models()
    if not names:
        pytest.skip("no models registered yet")
    with pytest.raises(ModelError, match="has no argument"):
        registry.create_model(names[0], num_classes=5, in_features=3, num_particles=16, no_such_arg=1)


def test_none_overrides_are_ignored():
    names = registry.list_models()
    if not names:
        pytest.skip("no models registered yet")
    entry = registry.get_entry(names[0])
    kwargs = registry.model_kwargs(entry.smallest, **{a: None for a in entry.arguments})
    assert kwargs == dict(entry.presets[entry.smallest])
