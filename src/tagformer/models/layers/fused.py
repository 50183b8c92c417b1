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


def _fusable(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not torch.compiler.is_compiling()
        and not torch.compiler.is_exporting()
        and _fused_available()
        and _get_current_dispatch_mode() is None  # e.g. FlopCounterMode must see a plain linear
    )


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, attr: str) -> torch.Tensor:
    shape = x.shape
    out = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, shape[-1]), weight, bias, attr, [], "none")
    return out.view(*shape[:-1], weight.shape[0])


def linear_gelu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``gelu(x @ weight.T + bias)`` (exact GELU) for x of shape (..., in)."""
    if not _fusable(x, weight):
        return F.gelu(F.linear(x, weight, bias))
    return _pointwise(x, weight, bias, "gelu")


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` with the bias applied inside the oneDNN kernel when fusable."""
    if not _fusable(x, weight):
        return F.linear(x, weight, bias)
    return _pointwise(x, weight, bias, "none")
