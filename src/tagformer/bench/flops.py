"""FLOP counting with ``torch.utils.flop_counter`` (FLOPs = 2 x MACs, per jet).

**One convention for every figure tagformer prints** (training summaries, ``profile``, ``compare``,
docs): :func:`model_flops_per_jet` = FLOPs of one forward pass per jet on synthetic jets whose
``num_particles`` slots are all real (:func:`tagformer.bench.inputs.synthetic_jets`), i.e. the worst-case
cost at that N, independent of any dataset's multiplicity.


torch's counter knows matmuls and convolutions, and the CUDA fused attention kernels, but on CPU
``scaled_dot_product_attention`` dispatches to ``_scaled_dot_product_flash_attention_for_cpu`` (and,
with some masks, the math path's fused op), which it counts as zero. We register those ops with the same
formula torch uses for the CUDA kernels (QK^T and AV matmuls), so attention is never free on CPU.
Elementwise work (softmax, norms, activations) is not counted, as in torch's convention.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def _sdpa_flops(q_shape: torch.Size, k_shape: torch.Size, v_shape: torch.Size) -> int:
    *batch, lq, d = q_shape
    lk = k_shape[-2]
    dv = v_shape[-1]
    b = 1
    for s in batch:
        b *= s
    return 2 * b * lq * lk * d + 2 * b * lq * lk * dv


def _cpu_sdpa(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _sdpa_flops(query, key, value)


def _custom_mapping() -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    aten = torch.ops.aten
    for name in ("_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_fused_attention_overrideable"):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = _cpu_sdpa
    return mapping


def count_flops(fn: Any, *args: Any, **kwargs: Any) -> int:
    """Total FLOPs (2 x MACs) of one call ``fn(*args, **kwargs)`` under ``torch.no_grad``."""
    try:
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as counter:
            fn(*args, **kwargs)
    except (AssertionError, AttributeError):
        # torch's module tracker (inside FlopCounterMode) can fail under no_grad on some graphs (e.g. ParT's
        # bucketed path); counting with autograd enabled gives the same FLOPs (the backward is never run).
        with FlopCounterMode(display=False, custom_mapping=_custom_mapping()) as counter:
            fn(*args, **kwargs)
    return int(counter.get_total_flops())


#: Stated next to every FLOP figure (summary.json, profile CSV, docs).
FLOPS_CONVENTION = "2 x MACs, torch.utils.flop_counter, per jet, all num_particles slots real"


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters of ``model`` (the one parameter count of tagformer)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def model_flops_per_jet(model: torch.nn.Module, *, in_features: int, num_particles: int, jets: int = 2) -> float:
    """FLOPs per jet of ``model`` at ``num_particles`` all-real particles (see the module docstring)."""
    from tagformer.bench.inputs import synthetic_jets

    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    batch = synthetic_jets(jets, num_particles, in_features, device=device)
    return flops_per_jet(model, batch)


def flops_per_jet(model: torch.nn.Module, batch: Any) -> float:
    """FLOPs per jet of ``model(batch)`` (total divided by the batch size)."""
    was_training = model.training
    model.eval()
    try:
        total = count_flops(model, batch)
    finally:
        model.train(was_training)
    return total / len(batch)
