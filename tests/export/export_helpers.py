"""Helpers for export tests: a tiny hls4ml-layout file and a run directory built without training.

A run directory is what ``tagformer train`` writes and ``load_run`` reads: ``config.yaml`` (merged
config), ``dataset.json``, ``normaliser.json`` (fitted on the training split) and
``checkpoints/best.pt`` (``{"state_dict", "meta"}``, the tagger's input normalisation set from the same
fit). Export only needs weights, not good ones, so the weights here are the freshly initialised model's:
parity does not depend on training.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from tagformer.data.features import HLS4ML16


def write_hls4ml(path: Path, jets: int = 150, particles: int = 20, seed: int = 0) -> Path:
    """A small hls4ml-layout file: 5 balanced classes, pT-ordered massless particles, zero padding."""
    import h5py

    rng = np.random.default_rng(seed)
    labels = np.arange(jets) % 5
    cons = np.zeros((jets, particles, 16), dtype=np.float32)
    for i, c in enumerate(labels):
        k = int(rng.integers(3, particles + 1))
        pt = np.sort(rng.exponential(50.0, k) + 1.0)[::-1]
        eta = rng.uniform(-1, 1) + rng.normal(0, 0.05 * (c + 1), k)
        phi = rng.uniform(-3, 3) + rng.normal(0, 0.05 * (c + 1), k)
        cons[i, :k, :4] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], 1)
        cons[i, :k, 5], cons[i, :k, 7], cons[i, :k, 10] = pt, eta, phi
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = cons
        f["jets"] = np.concatenate([rng.normal(size=(jets, 2)), np.eye(5)[labels]], 1).astype(np.float32)
        f["jetFeatureNames"] = np.array([b"pt", b"mass", b"j_g", b"j_q", b"j_w", b"j_z", b"j_t"])
        f["particleFeatureNames"] = np.array([s.encode() for s in HLS4ML16])
    return path


def build_run(run_dir: Path, data: Path, model: str, particles: int = 16) -> Path:
    """Write a complete run directory for ``model`` on ``data`` with untrained weights."""
    from tagformer.config import build_config, save_config
    from tagformer.data.datamodule import JetDataModule
    from tagformer.models import create_model

    cfg = build_config(model=model, data=str(data),
                       overrides=[f"data.num_particles={particles}", "data.batch_size=32"])
    (run_dir / "checkpoints").mkdir(parents=True)
    save_config(cfg, run_dir / "config.yaml")
    dm = JetDataModule(cfg.data)
    dm.setup("fit")
    info = dm.info
    (run_dir / "dataset.json").write_text(json.dumps(asdict(info)))
    norm = dm.normaliser_state()
    (run_dir / "normaliser.json").write_text(json.dumps(norm))
    torch.manual_seed(0)
    net = create_model(model, num_classes=info.num_classes, in_features=info.in_features,
                       num_particles=info.num_particles, **cfg.model.overrides)
    net.input_norm.set_stats(norm["mean"], norm["std"])
    torch.save({"state_dict": net.state_dict(), "meta": {"epoch": 0}}, run_dir / "checkpoints" / "best.pt")
    return run_dir
