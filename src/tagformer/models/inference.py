"""Inference copies of models: the same function, with fused CPU kernels and folded normalisations.

Training graphs are built from plain modules (``nn.Linear``, ``nn.GELU``, ``nn.BatchNorm1d``, per-head
scales as separate parameters) so that hooks, ``torch.export`` and module-swapping quantisation tools
see every layer. The fast paths measured on CPU live here instead: :func:`prepare_for_inference`
returns an eval-mode copy in which modules that declare a ``for_inference()`` method are replaced by
its result (children before their parents). Today that means

- ParT blocks: attention input/output projections and ``fc2`` as :class:`~tagformer.models.layers.fused.FusedLinear`,
  ``fc1`` + GELU as :class:`~tagformer.models.layers.fused.FusedLinearGELU`; the per-head attention
  scale folded into the output projection; the pair embedding's BatchNorms folded into its linear
  layers (fused with their GELUs);
- PHAT blocks: the FFN's ``fc1`` + GELU as one fused kernel.

The copy computes the same function up to float rounding. Its parameters do not require gradients, so
the fused kernels run with or without ``torch.no_grad``; they still fall back to the plain operations
off CPU float32, under autograd, export, compilation and FLOP counting
(:mod:`~tagformer.models.layers.fused`). The copy's state dict is not that of the training model
(folded parameters): save the training model, prepare for inference after loading.
"""

from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def _convert(module: nn.Module) -> nn.Module:
    for name, child in list(module.named_children()):
        module._modules[name] = _convert(child)
    hook = getattr(module, "for_inference", None)
    return hook() if callable(hook) else module


def prepare_for_inference(model: M) -> M:
    """An eval-mode copy of ``model`` with every ``for_inference()`` transform applied (see module docstring).

    ``model`` itself is left unchanged.
    """
    out = _convert(copy.deepcopy(model).eval())
    out.eval()  # modules built by the transforms too
    out.requires_grad_(False)
    return out  # type: ignore[return-value]


def is_inference_module(module: nn.Module) -> bool:
    """True if ``module`` or any submodule is an inference-only fused module."""
    from tagformer.models.layers.fused import FusedLinear, FusedLinearGELU

    return any(isinstance(m, (FusedLinear, FusedLinearGELU)) for m in module.modules())
