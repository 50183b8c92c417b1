"""Build a method's module for a backbone, after checking the encoder can do it."""

from __future__ import annotations

from tagformer.errors import ConfigError
from tagformer.pretrain.backbone import Backbone
from tagformer.pretrain.config import METHODS, PretrainConfig
from tagformer.pretrain.method import PretrainMethod, require_mixing_tokens, require_particle_tokens


def reads_p4(model: str) -> bool:
    """The registry says the model reads ``batch.p4`` (four-momenta or pair features)."""
    from tagformer.models.registry import get_entry

    caps = get_entry(model).capabilities
    return caps.needs_p4 or caps.needs_pairs


def build_method(cfg: PretrainConfig, backbone: Backbone, in_features: int) -> PretrainMethod:
    """The :class:`PretrainMethod` of ``cfg.pretrain.method`` for ``backbone``; ConfigError for an unknown
    method or an encoder that lacks what the method needs (named)."""
    method = cfg.pretrain.method
    model = cfg.model.name
    if method == "mpm":
        from tagformer.pretrain.mpm import MaskedParticleModelling

        require_mixing_tokens(backbone.encoder, model, method, in_features, cfg.data.num_particles)
        return MaskedParticleModelling(in_features, backbone.encoder.embed_dim, reads_p4(model), cfg.pretrain.mpm)
    if method == "jjepa":
        from tagformer.pretrain.jjepa import JetJEPA

        require_particle_tokens(backbone.encoder, model, method)
        return JetJEPA(backbone, cfg.pretrain.jjepa)
    if method == "rino":
        from tagformer.pretrain.rino import RINO

        return RINO(backbone, cfg.pretrain.rino, cfg.data.feature_set, cfg.data.num_particles, cfg.data.ordering)
    raise ConfigError(f"unknown pretraining method {method!r}; choose one of {', '.join(METHODS)}")
