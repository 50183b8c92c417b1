"""Fixed batches and a few-step optimiser loop for the pretraining unit tests."""

from __future__ import annotations

import numpy as np
import torch

from tagformer.data.batch import JetBatch
from tagformer.data.features import compute_features
from tagformer.pretrain.backbone import Backbone, build_backbone
from tagformer.pretrain.masking import step_generator
from tagformer.pretrain.method import PretrainMethod

#: Overrides that make a pretraining run on the tiny file take a few seconds.
TINY = ["data.batch_size=32", "data.num_particles=16", "data.feature_set=part_kin", "trainer.progress=false",
        "trainer.checkpoint_every_n_steps=2", "trainer.threads=1", "trainer.log_every_n_steps=2"]


def physical_batch(batch: int = 24, particles: int = 16, seed: int = 0, feature_set: str = "part_kin") -> JetBatch:
    """Jets of 2-4 prongs with varying multiplicity (some padding), features of ``feature_set`` from p4."""
    rng = np.random.default_rng(seed)
    p4 = np.zeros((batch, particles, 4))
    mask = np.zeros((batch, particles), bool)
    for i in range(batch):
        n = int(rng.integers(4, particles + 1))
        prongs = int(rng.integers(2, 5))
        centres = rng.normal(0, 0.15, (prongs, 2))
        which = rng.integers(0, prongs, n)
        eta = centres[which, 0] + rng.normal(0, 0.03, n)
        phi = centres[which, 1] + rng.normal(0, 0.03, n)
        pt = np.sort(rng.exponential(50.0, n) + 1.0)[::-1]
        p4[i, :n] = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], -1)
        mask[i, :n] = True
    jet = p4.sum(1)
    feats = compute_features(feature_set, p4, mask, jet, {})
    return JetBatch(features=torch.from_numpy(feats), p4=torch.from_numpy(p4.astype(np.float32)),
                    mask=torch.from_numpy(mask), labels=torch.zeros(batch, dtype=torch.long))


def fitted_backbone(model: str, batch: JetBatch, **overrides) -> Backbone:
    """A backbone of ``model`` whose input normalisation is fitted on ``batch``'s real particles."""
    real = batch.features[batch.mask]
    state = {"mean": real.mean(0).tolist(), "std": real.std(0).clamp_min(1e-3).tolist()}
    return build_backbone(model, overrides, batch.features.shape[-1], batch.num_particles, state)


def train_steps(backbone: Backbone, method: PretrainMethod, batch: JetBatch, steps: int, lr: float = 3e-3,
                fixed_masks: bool = True) -> list[float]:
    """Losses of ``steps`` Adam steps on one batch (masks of step 0 every step when ``fixed_masks``)."""
    torch.manual_seed(0)
    params = [p for p in [*backbone.parameters(), *method.parameters()] if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    for step in range(steps):
        loss, _ = method.loss(backbone, batch, step_generator(0, 0 if fixed_masks else step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        method.after_step(backbone, step, steps)
        losses.append(float(loss.detach()))
    return losses
