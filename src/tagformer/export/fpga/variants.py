"""The supported models and their hardware variants (``tagformer fpga`` looks the run's model up here)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from tagformer.errors import ModelError
from tagformer.export.fpga.hardware import HardwareModel, HwDeepSets, HwTransformer, _head
from tagformer.export.fpga.hardware_linformer import HwLinformer
from tagformer.export.fpga.hardware_phat import HwPHAT
from tagformer.export.fpga.hardware_salt import HwSALT
from tagformer.models.tagger import Tagger

#: Model name -> hardware variant builder ``(encoder, head) -> HardwareModel``.
SUPPORTED: dict[str, Callable[[nn.Module, nn.Linear], HardwareModel]] = {
    "deepsets": HwDeepSets, "transformer": HwTransformer, "salt": HwSALT, "linformer": HwLinformer, "phat": HwPHAT,
}


def hardware_variant(tagger: Tagger, model_name: str) -> HardwareModel:
    """The hardware variant of a trained tagger; :class:`ModelError` listing the supported models if none."""
    if model_name not in SUPPORTED:
        raise ModelError(f"model {model_name!r} has no FPGA variant yet; supported: {', '.join(SUPPORTED)}")
    return SUPPORTED[model_name](tagger.encoder, _head(tagger)).double()
