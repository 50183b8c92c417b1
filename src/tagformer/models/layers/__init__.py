"""Shared building blocks: MLPs, normalisations (LayerNorm, DyT), masked pooling."""

from tagformer.models.layers.mlp import MLP
from tagformer.models.layers.norm import DyT, make_norm
from tagformer.models.layers.pooling import MaskedPool, masked_fill_padding

__all__ = ["MLP", "DyT", "MaskedPool", "make_norm", "masked_fill_padding"]
