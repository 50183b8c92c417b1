"""Starting a tagger from a pretraining run; freezing; label subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tagformer.data.labels import label_subset
from tagformer.errors import ConfigError, TagformerError
from tagformer.models.registry import create_model
from tagformer.rundir import load_weights
from tagformer.train.init_from import freeze_encoder, load_pretrained_encoder, pretrained_normaliser


def _tagger(model: str = "transformer_tiny", **overrides):
    torch.manual_seed(1)
    return create_model(model, num_classes=5, in_features=7, num_particles=16, **overrides)


def test_round_trip_loads_exactly_the_encoder_weights(mpm_run) -> None:
    saved = load_weights(mpm_run / "checkpoints" / "best.pt")["state_dict"]
    assert saved and all(k.startswith(("encoder.", "input_norm.")) for k in saved)
    tagger = _tagger(num_layers=1)
    heads_before = {k: v.clone() for k, v in tagger.heads.state_dict().items()}
    info = load_pretrained_encoder(tagger, mpm_run, model="transformer_tiny", overrides={"num_layers": 1})
    own = tagger.state_dict()
    assert info.method == "mpm" and info.keys == len(saved) and info.preset == "transformer_tiny"
    for key, value in saved.items():
        assert torch.equal(own[key], value), key
    for key, value in heads_before.items():
        assert torch.equal(tagger.heads.state_dict()[key], value)
    norm = pretrained_normaliser(mpm_run)
    assert torch.allclose(tagger.input_norm.mean, torch.tensor(norm["mean"], dtype=torch.float32))


def test_mismatched_architecture_is_refused(mpm_run) -> None:
    with pytest.raises(TagformerError, match="encoder architecture must be the same"):
        load_pretrained_encoder(_tagger(num_layers=1), mpm_run, model="transformer_tiny", overrides={})
    with pytest.raises(TagformerError, match="does not match this run's model"):
        load_pretrained_encoder(_tagger(), mpm_run)  # two layers here, one there
    with pytest.raises(TagformerError, match="encoder architecture must be the same"):
        load_pretrained_encoder(_tagger("part_tiny"), mpm_run, model="part_tiny")


def test_mismatched_inputs_are_refused(mpm_run) -> None:
    from tagformer.data.config import DataConfig

    data = DataConfig(path="x.h5", feature_set="ptetaphi", num_particles=16)
    with pytest.raises(TagformerError, match=r"data\.feature_set"):
        load_pretrained_encoder(_tagger(num_layers=1), mpm_run, data=data)


def test_classifier_run_and_missing_run_are_refused(tmp_path, tiny_h5) -> None:
    from tagformer.config import build_config
    from tagformer.train.run import train

    cfg = build_config(model="transformer_tiny", data=str(tiny_h5),
                       overrides=["data.batch_size=64", "data.num_particles=16", "trainer.progress=false",
                                  "trainer.max_epochs=1", "model.num_layers=1", "trainer.threads=1"])
    train(cfg, tmp_path / "cls")
    with pytest.raises(TagformerError, match="training \\(classifier\\) run, not a pretraining run"):
        load_pretrained_encoder(_tagger(num_layers=1), tmp_path / "cls")
    with pytest.raises(TagformerError, match="no such run directory"):
        load_pretrained_encoder(_tagger(), tmp_path / "nothing")


def test_freeze_encoder_leaves_heads_trainable() -> None:
    tagger = _tagger()
    frozen = freeze_encoder(tagger)
    assert frozen == sum(p.numel() for p in tagger.encoder.parameters())
    assert not any(p.requires_grad for p in tagger.encoder.parameters())
    assert all(p.requires_grad for p in tagger.heads.parameters())


def test_label_subset_is_seeded_balanced_and_nested() -> None:
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    np.random.default_rng(0).shuffle(labels)
    a = label_subset(labels, 0.1, seed=3)
    assert np.array_equal(a, label_subset(labels, 0.1, seed=3))
    assert not np.array_equal(a, label_subset(labels, 0.1, seed=4))
    assert np.bincount(labels[a]).tolist() == [10, 20, 30, 40]
    assert set(a) <= set(label_subset(labels, 0.5, seed=3))
    assert np.array_equal(label_subset(labels, 1.0, seed=3), np.arange(len(labels)))
    assert np.bincount(labels[label_subset(labels, 0.001, seed=0)]).tolist() == [1, 1, 1, 1]
    for bad in (0.0, -0.1, 1.5, "x"):
        with pytest.raises(ConfigError, match="label_fraction"):
            label_subset(labels, bad, seed=0)
