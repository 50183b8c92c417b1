"""A preset whose choices changed (``salt``: the reference's partitions, DyT and initialisation since the SAL-T
ablation) keeps every saved run's function: new run configs name the pinned arguments, and a config saved
before they were pinned is rebuilt with the values the preset had then."""

from __future__ import annotations

import torch
import yaml

from tagformer.config import build_config, load_config, read_saved_config, saved_model_arguments
from tagformer.models import create_model
from tagformer.models.registry import get_entry, pin_arguments, saved_arguments

EARLIER = {"partition_rule": "rank", "norm": "dyt", "init": "torch"}
REFERENCE = {"partition_rule": "position", "norm": "dyt_scalar", "init": "glorot"}


def test_salt_presets_build_the_reference_choices_and_record_the_earlier_ones():
    entry = get_entry("salt")
    assert set(entry.pinned) == set(EARLIER)
    assert pin_arguments("salt", {}) == REFERENCE
    assert pin_arguments("salt_large", {"norm": "layer"}) == {"partition_rule": "position", "init": "glorot"}
    assert saved_arguments("salt", {}) == EARLIER
    assert saved_arguments("salt_large", {}) == EARLIER
    assert saved_arguments("salt_ref", {}) == REFERENCE  # salt_ref always built the reference's choices
    assert saved_arguments("salt", dict(REFERENCE)) == {}
    torch.manual_seed(0)
    a = create_model("salt", num_classes=5, in_features=3, num_particles=16)
    torch.manual_seed(0)
    b = create_model("salt", num_classes=5, in_features=3, num_particles=16, **REFERENCE)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert sum(p.numel() for p in a.parameters()) != sum(
        p.numel() for p in create_model("salt", num_classes=5, in_features=3, num_particles=16,
                                        **EARLIER).parameters())


def test_new_run_configs_name_the_pinned_arguments(tmp_path):
    cfg = build_config(model="salt", data="jets.h5")
    assert {k: cfg.model.overrides[k] for k in EARLIER} == REFERENCE
    cfg = build_config(model="salt", data="jets.h5", overrides=["model.partition_rule=rank"])
    assert cfg.model.overrides["partition_rule"] == "rank" and cfg.model.overrides["norm"] == "dyt_scalar"
    assert "partition_rule" not in build_config(model="transformer_tiny", data="jets.h5").model.overrides
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    assert load_config(path).to_dict() == cfg.to_dict()


def test_a_config_saved_before_the_change_rebuilds_the_earlier_salt(tmp_path):
    raw = build_config(model="salt", data="jets.h5").to_dict()
    raw["model"] = {"name": "salt"}  # as runs were saved before the arguments were pinned
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert read_saved_config(path)["model"] == {"name": "salt", **EARLIER}
    assert load_config(path).model.overrides == EARLIER
    resumed = build_config(base=raw, overrides=["trainer.max_epochs=3"])
    assert resumed.model.overrides == EARLIER
    assert saved_model_arguments({"model": {"name": "no_such_model"}}) == {"model": {"name": "no_such_model"}}
