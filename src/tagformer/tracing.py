"""Is the model being traced? The one rule for code paths that must differ under tracing.

Models take data-dependent shortcuts in eager mode (trimming trailing padding, packing real particles,
fused CPU kernels, Python-side checks of the sequence length) that a tracer cannot follow or would bake
into the graph. They switch to their static path when :func:`is_tracing` is true:

- ``torch.jit.trace``,
- ``torch.onnx.export`` (both the TorchScript exporter and the dynamo exporter, which runs ``torch.export``),
- ``torch.export`` itself,
- ``torch.compile`` (dynamo).

:func:`is_plain_eager` additionally requires that no dispatch mode is active (e.g. ``FlopCounterMode``
counting FLOPs, which must see the plain operators, not a fused kernel).
"""

from __future__ import annotations

import torch


def is_tracing() -> bool:
    """True while torch.jit / torch.export / torch.compile / ONNX export trace the model."""
    return bool(
        torch.jit.is_tracing()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_exporting()
        or torch.compiler.is_compiling()
    )


def is_compiling_in_process() -> bool:
    """True under ``torch.compile`` alone (not ``torch.export`` or ONNX export): the graph runs in this
    process, so a static-shape path (no sizes read from the data, no ``.item()``) keeps it whole, without
    graph breaks, and CUDA-graph-able."""
    return bool(torch.compiler.is_compiling() and not torch.compiler.is_exporting()
                and not torch.onnx.is_in_onnx_export())


def is_torchscript_tracing() -> bool:
    """True under ``torch.jit.trace`` alone (which records one example's Python control flow, e.g. a grid size)."""
    return bool(torch.jit.is_tracing())


def is_plain_eager() -> bool:
    """Not tracing and no ``TorchDispatchMode`` active: the only state where eager-only kernels may run."""
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return not is_tracing() and _get_current_dispatch_mode() is None
