"""J-JEPA: predict the representations of hidden subjets from the visible ones, in representation space.

Level: the zoo encoder works at the **particle level** over the whole jet; a subjet's token is the mean of
its particles' tokens. The subjets are FastJet Cambridge/Aachen subjets of radius 0.2, pT-ordered, at most
20 per jet (:func:`~tagformer.pretrain.subjets.ca_subjets`). Per jet, about ``target_fraction`` of the
``leading`` hardest subjets are targets (at least one, and at least one subjet stays visible); the rest is
context.

- The **context encoder** (the backbone being trained) sees only the particles of context subjets (the
  others are marked padding), and its tokens are mean-pooled per context subjet.
- The **target encoder** (an EMA copy of the backbone, momentum on a cosine schedule 0.99 -> 1.0, stepped
  once per optimiser step, no gradients) sees the whole jet; its pooled tokens of the target subjets,
  layer-normalised, are the targets.
- The **predictor** (a small transformer) receives the context subjet tokens plus one learned mask token per
  target, each with an embedding of its subjet's (Δη, Δφ) to the jet axis (targets' positions only, not their
  momenta), and predicts the targets' tokens; the loss is their mean squared error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.pretrain.backbone import Backbone
from tagformer.pretrain.config import JJEPAConfig
from tagformer.pretrain.ema import ema_momentum, ema_update, make_teacher
from tagformer.pretrain.masking import random_particle_mask
from tagformer.pretrain.method import PretrainMethod
from tagformer.pretrain.subjets import ca_subjets


def subjet_positions(subjet_p4: torch.Tensor, jet_p4: torch.Tensor) -> torch.Tensor:
    """(B, S, 2): (Δη, Δφ) of each subjet to the jet axis."""
    def eta_phi(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pt = torch.hypot(v[..., 0], v[..., 1]).clamp_min(1e-6)
        return torch.asinh(v[..., 2] / pt), torch.atan2(v[..., 1], v[..., 0])

    eta, phi = eta_phi(subjet_p4)
    jeta, jphi = eta_phi(jet_p4.unsqueeze(1))
    dphi = torch.remainder(phi - jphi + torch.pi, 2 * torch.pi) - torch.pi
    return torch.stack([eta - jeta, dphi], dim=-1)


def pool_subjets(tokens: torch.Tensor, assign: torch.Tensor, num_subjets: int) -> torch.Tensor:
    """(B, S, D) mean of the tokens (B, N, D) of each subjet's particles (``assign`` (B, N), -1 = none);
    zero for a subjet with no particle."""
    b, _, d = tokens.shape
    index = assign.clamp_min(0)
    weight = (assign >= 0).to(tokens.dtype).unsqueeze(-1)
    sums = tokens.new_zeros(b, num_subjets, d).scatter_add(1, index.unsqueeze(-1).expand(-1, -1, d), tokens * weight)
    counts = tokens.new_zeros(b, num_subjets, 1).scatter_add(1, index.unsqueeze(-1), weight)
    return sums / counts.clamp_min(1.0)


def choose_targets(subjet_mask: torch.Tensor, leading: int, fraction: float,
                   generator: torch.Generator) -> torch.Tensor:
    """(B, S) bool: about ``fraction`` of the ``leading`` hardest subjets of each jet, at least one, and never
    all the jet's subjets (jets with one subjet get none)."""
    lead = subjet_mask.clone()
    lead[:, leading:] = False
    n_lead, n_all = lead.sum(dim=1), subjet_mask.sum(dim=1)
    k = torch.round(n_lead.to(torch.float32) * fraction).to(n_lead.dtype).clamp_min(1)
    k = torch.minimum(torch.minimum(k, n_lead), (n_all - 1).clamp_min(0))
    return random_particle_mask(lead, fraction, generator, counts=k)


class Predictor(nn.Module):
    """Transformer over context subjet tokens and target mask tokens, each with a position embedding."""

    def __init__(self, embed_dim: int, cfg: JJEPAConfig) -> None:
        super().__init__()
        width = cfg.predictor_dim
        heads = cfg.predictor_heads if width % cfg.predictor_heads == 0 else 1
        self.inp = nn.Linear(embed_dim, width)
        self.pos = nn.Sequential(nn.Linear(2, width), nn.GELU(), nn.Linear(width, width))
        self.mask_token = nn.Parameter(0.02 * torch.randn(width))
        layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.predictor_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, embed_dim)

    def forward(self, context: torch.Tensor, positions: torch.Tensor, context_mask: torch.Tensor,
                target_mask: torch.Tensor) -> torch.Tensor:
        """Predicted tokens (B, S, D) at every subjet slot (read them at ``target_mask``)."""
        x = torch.where(target_mask.unsqueeze(-1), self.mask_token.expand(*target_mask.shape, -1), self.inp(context))
        x = x + self.pos(positions)
        keep = context_mask | target_mask
        x = self.blocks(x, src_key_padding_mask=~keep)
        return self.out(self.norm(x))


class JetJEPA(PretrainMethod):
    """J-JEPA with the backbone as context encoder (see the module docstring)."""

    name = "jjepa"
    metric_names = ("loss", "target_std")

    def __init__(self, backbone: Backbone, cfg: JJEPAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.target = make_teacher(backbone)
        self.predictor = Predictor(backbone.encoder.embed_dim, cfg)

    def subjets(self, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(subjet p4 (B, S, 4), subjet mask (B, S), particle -> subjet (B, N)) on the batch's device."""
        sub = ca_subjets(batch.p4.detach().float().cpu().numpy(), batch.mask.cpu().numpy(), self.cfg.subjet_radius,
                         self.cfg.max_subjets)
        dev = batch.p4.device
        return (torch.from_numpy(sub.p4).to(dev), torch.from_numpy(sub.mask).to(dev),
                torch.from_numpy(sub.assign).to(dev))

    def loss(self, backbone: Backbone, batch: JetBatch,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sub_p4, sub_mask, assign = self.subjets(batch)
        targets = choose_targets(sub_mask, self.cfg.leading, self.cfg.target_fraction, generator)
        context = sub_mask & ~targets
        s = sub_mask.shape[1]
        hidden = torch.gather(targets, 1, assign.clamp_min(0)) & (assign >= 0)  # particles of target subjets
        with torch.no_grad():
            was = self.target.training
            self.target.eval()
            full = self.target.encode(self.target.normalise(batch))
            self.target.train(was)
            wanted = F.layer_norm(pool_subjets(full.float(), assign, s), (full.shape[-1],))
        visible = batch.mask & ~hidden
        norm = backbone.normalise(batch.replace(mask=visible))
        tokens = backbone.encode(norm)
        ctx_assign = torch.where(visible, assign, torch.full_like(assign, -1))
        ctx_tokens = pool_subjets(tokens, ctx_assign, s)
        jet_p4 = (batch.p4 * batch.mask.unsqueeze(-1)).sum(dim=1)
        positions = subjet_positions(sub_p4, jet_p4).to(ctx_tokens.dtype)
        pred = self.predictor(ctx_tokens, positions, context, targets)
        if not bool(targets.any()):  # no jet with two subjets: a zero that keeps the graph
            zero = pred.sum() * 0.0
            return zero, {"loss": zero.detach(), "target_std": zero.detach()}
        p, t = pred[targets].float(), wanted[targets]
        total = F.mse_loss(p, t)
        return total, {"loss": total.detach(), "target_std": t.std(dim=0).mean().detach()}

    def after_step(self, backbone: Backbone, step: int, total: int) -> None:
        ema_update(self.target, backbone, ema_momentum(step, total, self.cfg.ema_start, self.cfg.ema_end))
