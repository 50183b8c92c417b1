"""The interface every pretraining method implements, and the capability check that names what is missing.

A method is an ``nn.Module`` holding everything it trains besides the backbone (mask tokens, heads,
predictors) and everything it keeps (EMA teachers, centres). The Lightning module calls
:meth:`PretrainMethod.loss` once per batch and :meth:`PretrainMethod.after_step` after every optimiser step.
"""

from __future__ import annotations

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import ConfigError
from tagformer.models.encoder import Encoder
from tagformer.pretrain.backbone import Backbone


class PretrainMethod(nn.Module):
    """Base class: ``loss(backbone, batch, generator) -> (loss, {name: value})``.

    ``metric_names`` lists the logged values (``loss`` first); ``after_step(backbone, step, total)`` runs
    after optimiser step ``step`` of ``total`` (EMA updates, schedules).
    """

    name: str = ""
    metric_names: tuple[str, ...] = ("loss",)

    def loss(self, backbone: Backbone, batch: JetBatch,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def after_step(self, backbone: Backbone, step: int, total: int) -> None:
        """Called after each optimiser step (nothing by default)."""


def has_particle_tokens(encoder: Encoder) -> bool:
    """The encoder implements ``encode`` (per-particle tokens), not only a jet embedding."""
    return type(encoder).encode is not Encoder.encode


def tokens_mix_particles(encoder: Encoder, in_features: int, num_particles: int) -> bool:
    """Probe: does the token of one particle change when another particle changes? (False for encoders whose
    tokens are per-particle maps, such as Deep Sets' and PointNet's, before pooling.)"""
    n = max(int(num_particles), 4)
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, n, in_features, generator=g)
    pt = torch.rand(2, n, generator=g) * 50 + 1
    eta, phi = torch.randn(2, n, generator=g) * 0.1, torch.randn(2, n, generator=g) * 0.1
    p4 = torch.stack([pt * phi.cos(), pt * phi.sin(), pt * eta.sinh(), pt * eta.cosh()], dim=-1)
    mask = torch.ones(2, n, dtype=torch.bool)
    other_f, other_p4 = features.clone(), p4.clone()
    other_f[:, 1:] = torch.randn(2, n - 1, in_features, generator=g)
    other_p4[:, 1:] = p4[:, 1:].flip(1) * 1.7
    was = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            a = encoder.encode(JetBatch(features=features, p4=p4, mask=mask))[:, 0]
            b = encoder.encode(JetBatch(features=other_f, p4=other_p4, mask=mask))[:, 0]
    finally:
        encoder.train(was)
    return not torch.allclose(a, b, atol=1e-6)


def require_particle_tokens(encoder: Encoder, model: str, method: str) -> None:
    """ConfigError naming the capability when ``method`` needs per-particle tokens the encoder lacks."""
    if not has_particle_tokens(encoder):
        raise ConfigError(f"model {model!r} cannot be pretrained with {method}: {method} needs per-particle tokens "
                          f"(the encoder's encode(batch) -> (B, N, D)), which {type(encoder).__name__} does not "
                          "provide")


def require_mixing_tokens(encoder: Encoder, model: str, method: str, in_features: int, num_particles: int) -> None:
    """ConfigError when the encoder's particle tokens ignore the other particles (nothing to predict from)."""
    require_particle_tokens(encoder, model, method)
    if not tokens_mix_particles(encoder, in_features, num_particles):
        raise ConfigError(f"model {model!r} cannot be pretrained with {method}: {method} needs per-particle tokens "
                          "that see the other particles, but each token of "
                          f"{type(encoder).__name__} depends on its own particle only (a masked particle's token "
                          "carries nothing to predict it from); use jjepa or rino, or an attention model")
