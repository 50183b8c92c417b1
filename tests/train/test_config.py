from __future__ import annotations

import pytest

from tagformer.config import build_config, deep_merge, packaged_config, parse_overrides
from tagformer.errors import ConfigError


def test_dotted_overrides_are_parsed_as_yaml_not_eval():
    out = parse_overrides(["trainer.max_epochs=3", "optim.lr=1e-4", "model.name=transformer_tiny",
                           "data.max_jets=null", "x.y=__import__('os')"])
    assert out["trainer"]["max_epochs"] == 3
    assert out["optim"]["lr"] == pytest.approx(1e-4)
    assert out["data"]["max_jets"] is None
    assert out["x"]["y"] == "__import__('os')"  # a plain string, never evaluated


@pytest.mark.parametrize("bad", ["max_epochs", "=3", "trainer.=3", "a..b=1"])
def test_malformed_override_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="override"):
        parse_overrides([bad])


def test_merge_order_base_then_file_then_flags_then_overrides(tmp_path):
    user = tmp_path / "run.yaml"
    user.write_text("trainer: {max_epochs: 7, patience: 2}\ndata: {path: from_file.h5, batch_size: 64}\n")
    cfg = build_config(model="transformer_tiny", data="flag.h5", config_file=user,
                       overrides=["trainer.max_epochs=3"])
    base = packaged_config("base")
    assert cfg.trainer.max_epochs == 3  # override beats file
    assert cfg.trainer.patience == 2  # file beats base
    assert cfg.data.path == "flag.h5"  # flag beats file
    assert cfg.data.batch_size == 64
    assert cfg.optim.lr == pytest.approx(base["optim"]["lr"])  # base fills the rest
    assert cfg.model.name == "transformer_tiny"


def test_model_overrides_pass_through_to_the_registry():
    cfg = build_config(model="transformer_tiny", data="x.h5", overrides=["model.dim=8"])
    assert cfg.model.overrides == {"dim": 8}


@pytest.mark.parametrize(
    ("override", "needle"),
    [("trainer.max_epoch=3", "trainer.max_epoch"), ("bogus=1", "bogus"), ("data.batchsize=3", "data.batchsize"),
     ("trainer.max_epochs=many", "trainer.max_epochs"), ("model.not_an_arg=1", "not_an_arg")],
)
def test_unknown_or_bad_keys_are_named(override, needle):
    with pytest.raises(ConfigError, match=needle):
        build_config(model="transformer_tiny", data="x.h5", overrides=[override])


def test_unknown_model_and_missing_data_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        build_config(model="no_such_model", data="x.h5")
    with pytest.raises(ConfigError, match="--data"):
        build_config(model="transformer_tiny")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: [1, 2\n")
    with pytest.raises(ConfigError, match=str(bad)):
        build_config(model="transformer_tiny", data="x.h5", config_file=bad)
    with pytest.raises(ConfigError, match="does not exist"):
        build_config(model="transformer_tiny", data="x.h5", config_file=tmp_path / "missing.yaml")


def test_deep_merge_keeps_nested_keys():
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


def test_ordering_follows_the_model_capability(monkeypatch):
    from dataclasses import replace

    from tagformer.models import registry

    entry, preset = registry.resolve("transformer_tiny")
    kt_entry = replace(entry, capabilities=replace(entry.capabilities, order_dependent="kt"))
    monkeypatch.setattr(registry, "resolve", lambda name: (kt_entry, preset))
    assert build_config(model="transformer_tiny", data="x.h5").data.ordering == "kt"
    with pytest.warns(UserWarning, match="expects particles ordered by 'kt'"):
        cfg = build_config(model="transformer_tiny", data="x.h5", overrides=["data.ordering=pt"])
    assert cfg.data.ordering == "pt"


def test_every_packaged_config_is_valid_and_names_a_registered_model():
    from importlib import resources

    from tagformer.models.registry import list_models

    names = sorted(p.name[:-5] for p in (resources.files("tagformer") / "configs").iterdir()
                   if p.name.endswith(".yaml"))
    assert "base" in names
    for name in names:
        if name == "base":
            continue
        assert name in list_models(), f"configs/{name}.yaml names no registered model"
        cfg = build_config(model=name, data="x.h5")
        assert cfg.model.name == name


def test_top_level_configs_dir_is_the_packaged_one():
    from importlib import resources
    from pathlib import Path

    top = Path(__file__).resolve().parents[2] / "configs" / "base.yaml"
    assert top.read_text() == (resources.files("tagformer") / "configs" / "base.yaml").read_text()
