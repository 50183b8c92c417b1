"""Masked particle modelling (MPM): hide particles behind a learned mask token, predict what was hidden.

The mask token lives in the encoder's **input** space: the tagger standardises raw features
(:class:`~tagformer.models.input_norm.InputNorm`), then the standardised features of each masked particle are
replaced by one learned vector of width F. The particle keeps its slot and its ``mask`` entry, so
order-dependent encoders see the sequence they expect. Encoders that also read four-momenta (pair
features, Lorentz inputs, cell grids) see the masked particle's ``p4`` replaced by the mean of the jet's
visible particles (:func:`~tagformer.pretrain.backbone.hide_p4`), so nothing of it leaks.

A per-particle head (two-layer MLP on the encoder's tokens) predicts, at the masked slots:

- recipe ``features``: the particle's standardised input features, L1 or MSE;
- recipe ``one_particle``: exactly one particle is masked per jet and the head predicts its
  (log pT, Δη, Δφ, log E) with Δη, Δφ to the jet axis; the loss is the RMSE of log pT plus the RMSE of
  log E, the L1 of Δη and ``1 - cos`` of the Δφ error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.pretrain.backbone import Backbone, hide_p4
from tagformer.pretrain.config import MPMConfig
from tagformer.pretrain.masking import one_particle_mask, random_particle_mask
from tagformer.pretrain.method import PretrainMethod

_EPS = 1e-6


def particle_kinematics(p4: torch.Tensor, jet_p4: torch.Tensor) -> torch.Tensor:
    """(..., 4) = (log pT, Δη, Δφ, log E) of particles ``p4`` (..., 4) relative to ``jet_p4`` (..., 4)."""
    def pt_eta_phi(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pt = torch.hypot(v[..., 0], v[..., 1])
        eta = torch.asinh(v[..., 2] / pt.clamp_min(_EPS))
        return pt, eta, torch.atan2(v[..., 1], v[..., 0])

    pt, eta, phi = pt_eta_phi(p4)
    _, jeta, jphi = pt_eta_phi(jet_p4)
    dphi = torch.remainder(phi - jphi + torch.pi, 2 * torch.pi) - torch.pi
    return torch.stack([pt.clamp_min(_EPS).log(), eta - jeta, dphi, p4[..., 3].clamp_min(_EPS).log()], dim=-1)


def one_particle_loss(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Terms of the one-particle recipe for (M, 4) predictions and targets (log pT, Δη, Δφ, log E)."""
    return {
        "pt_rmse": F.mse_loss(pred[:, 0], target[:, 0]).add(_EPS).sqrt(),
        "eta_l1": F.l1_loss(pred[:, 1], target[:, 1]),
        "phi_cos": (1.0 - torch.cos(pred[:, 2] - target[:, 2])).mean(),
        "e_rmse": F.mse_loss(pred[:, 3], target[:, 3]).add(_EPS).sqrt(),
    }


class MaskedParticleModelling(PretrainMethod):
    """MPM on any encoder with per-particle tokens.

    Parameters
    ----------
    in_features : F (the mask token's width).
    embed_dim : D of the encoder's tokens (the head's input).
    reads_p4 : the encoder reads ``batch.p4`` (masked four-momenta are then hidden).
    cfg : recipe, mask fraction, loss and head width.
    """

    name = "mpm"

    def __init__(self, in_features: int, embed_dim: int, reads_p4: bool, cfg: MPMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.reads_p4 = bool(reads_p4)
        self.mask_token = nn.Parameter(0.02 * torch.randn(in_features))
        out = 4 if cfg.recipe == "one_particle" else in_features
        self.head = nn.Sequential(nn.Linear(embed_dim, cfg.head_hidden), nn.GELU(), nn.Linear(cfg.head_hidden, out))
        self.metric_names = ("loss", "pt_rmse", "eta_l1", "phi_cos", "e_rmse") if cfg.recipe == "one_particle" \
            else ("loss",)

    def choose(self, mask: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The particles to hide (B, N)."""
        if self.cfg.recipe == "one_particle":
            return one_particle_mask(mask, generator)
        return random_particle_mask(mask, self.cfg.mask_fraction, generator)

    def masked_input(self, backbone: Backbone, batch: JetBatch, hidden: torch.Tensor) -> tuple[JetBatch, JetBatch]:
        """(the normalised batch, the same with the hidden particles replaced by the mask token)."""
        norm = backbone.normalise(batch)
        token = self.mask_token.to(norm.features.dtype).expand_as(norm.features)
        features = torch.where(hidden.unsqueeze(-1), token, norm.features)
        p4 = hide_p4(batch.p4, batch.mask, hidden) if self.reads_p4 else batch.p4
        return norm, norm.replace(features=features, p4=p4)

    def loss(self, backbone: Backbone, batch: JetBatch,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        hidden = self.choose(batch.mask, generator)
        norm, masked = self.masked_input(backbone, batch, hidden)
        tokens = backbone.encode(masked)
        pred = self.head(tokens[hidden]).float()
        if pred.shape[0] == 0:  # no jet with two particles: nothing to predict, a zero that keeps the graph
            zero = tokens.sum() * 0.0 + self.mask_token.sum() * 0.0
            return zero, {name: zero.detach() for name in self.metric_names}
        if self.cfg.recipe == "one_particle":
            jet_p4 = (batch.p4 * batch.mask.unsqueeze(-1)).sum(dim=1, keepdim=True).expand_as(batch.p4)
            target = particle_kinematics(batch.p4[hidden].float(), jet_p4[hidden].float())
            terms = one_particle_loss(pred, target)
            total = terms["pt_rmse"] + terms["eta_l1"] + terms["phi_cos"] + terms["e_rmse"]
            return total, {"loss": total.detach(), **{k: v.detach() for k, v in terms.items()}}
        target = norm.features[hidden].float()
        total = F.l1_loss(pred, target) if self.cfg.loss == "l1" else F.mse_loss(pred, target)
        return total, {"loss": total.detach()}
