"""Linear + GELU in one kernel at inference on CPU (oneDNN post-op), with an exact eager fallback.

``torch.ops.mkldnn._linear_pointwise`` (the kernel torch.compile's CPU backend emits) applies bias and
exact (erf) GELU inside the matrix multiplication, saving two passes over the output. It is used only
when it computes the same function: CPU float32, no autograd, not under export/compile or a dispatch
mode (such as the FLOP counter); otherwise the plain ``gelu(linear(x))`` runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import _get_current_dispatch_mode


def _fused_available() -> bool:
    try:
        torch.ops.mkldnn._linear_pointwise  # noqa: B018
    except (AttributeError, RuntimeError):
        return False
    return torch.backends.mkldnn.is_available()


def linear_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``gelu(x @ weight.T + bias)`` (exact GELU) for x of shape (..., in)."""
    fusable = (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not torch.compiler.is_compiling()
        and not torch.compiler.is_exporting()
        and _fused_available()
        and _get_current_dispatch_mode() is None  # e.g. FlopCounterMode must see a plain linear
    )
    if not fusable:
        return F.gelu(F.linear(x, weight, bias))
    shape = x.shape
    out = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, shape[-1]), weight, bias, "gelu", [], "none")
    return out.view(*shape[:-1], weight.shape[0])
