"""The paper recipes (configs/recipes/*.yaml) are valid run configs with the reference trainings' settings."""

from __future__ import annotations

from importlib import resources

import pytest

from tagformer.config import build_config
from tagformer.models import create_model

RECIPES = resources.files("tagformer") / "configs" / "recipes"


@pytest.mark.parametrize(("recipe", "family"), [("salt_paper", "salt"), ("phat_paper", "phat")])
def test_recipe_builds_the_reference_training_setup(recipe, family):
    with resources.as_file(RECIPES / f"{recipe}.yaml") as path:
        cfg = build_config(config_file=path, data="jets.h5", overrides=["data.num_particles=32"])
    assert cfg.model.choice.entry.name == family
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay) == ("adam", 1e-3, 0.0)
    assert (cfg.schedule.name, cfg.schedule.warmup_fraction) == ("constant", 0.0)
    assert cfg.trainer.grad_clip is None and cfg.trainer.patience == 40 and cfg.trainer.monitor == "val_loss"
    assert cfg.data.batch_size == 128 and cfg.data.ordering == cfg.model.choice.entry.capabilities.order_dependent
    assert cfg.data.normalisation == "robust"  # (x - median) / (p95 - p5), as the reference prepares its inputs
    model = create_model(cfg.model.name, num_classes=5, in_features=3, num_particles=32, **cfg.model.overrides)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_salt_recipe_uses_the_reference_choices_and_overrides_still_win():
    with resources.as_file(RECIPES / "salt_paper.yaml") as path:
        cfg = build_config(config_file=path, data="jets.h5", overrides=["trainer.patience=7"])
    assert cfg.model.name == "salt_ref" and cfg.trainer.patience == 7


@pytest.mark.parametrize(("name", "last"), [("phat_paper", {1000: 4096}), ("salt_paper", {800: 2048})])
def test_recipes_by_name_carry_the_reference_batch_stages(name, last):
    cfg = build_config(config_file=name, data="jets.h5")  # a packaged recipe's name, no path
    schedule = cfg.trainer.batch_schedule
    assert list(schedule)[:5] == [0, 200, 400, 600, 800] and schedule[0] == 128
    assert {k: v for k, v in schedule.items() if k == max(schedule)} == last
    assert build_config(config_file=f"recipes/{name}.yaml", data="jets.h5").trainer.batch_schedule == schedule


def test_an_unknown_config_name_lists_the_recipes(tmp_path):
    from tagformer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"does not exist .*phat_paper, salt_paper"):
        build_config(config_file=str(tmp_path / "nope.yaml"), data="jets.h5")
