"""Every registered model's smallest preset takes a few pretraining steps with each method it supports."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import fitted_backbone, physical_batch, train_steps

from tagformer.errors import ConfigError
from tagformer.models.registry import list_entries
from tagformer.pretrain.config import build_pretrain_config
from tagformer.pretrain.factory import build_method
from tagformer.pretrain.method import tokens_mix_particles

SMALL = {"mpm": [], "jjepa": ["pretrain.jjepa.predictor_dim=16", "pretrain.jjepa.predictor_layers=1"],
         "rino": ["pretrain.rino.global_views=[0,4]", "pretrain.rino.local_views=[2]", "pretrain.rino.out_dim=16",
                  "pretrain.rino.head_hidden=16", "pretrain.rino.bottleneck=8"]}


def _available(entry) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(pkg) is not None for pkg in entry.capabilities.requires)


@pytest.mark.parametrize("method", ["mpm", "jjepa", "rino"])
@pytest.mark.parametrize("entry", [e for e in list_entries() if _available(e)], ids=lambda e: e.smallest)
def test_a_few_steps_or_a_clear_refusal(entry, method) -> None:
    batch = physical_batch(batch=8)
    backbone = fitted_backbone(entry.smallest, batch)
    cfg = build_pretrain_config(model=entry.smallest, data="unused.h5", method=method,
                                overrides=["data.num_particles=16", "data.feature_set=part_kin", *SMALL[method]])
    torch.manual_seed(0)
    if method == "mpm" and not tokens_mix_particles(backbone.encoder, 7, 16):
        with pytest.raises(ConfigError, match="depends on its own particle only"):
            build_method(cfg, backbone, 7)
        return
    losses = train_steps(backbone, build_method(cfg, backbone, 7), batch, 3)
    assert all(math.isfinite(v) for v in losses)
