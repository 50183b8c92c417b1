"""Inference-only fused CPU kernels: Linear + GELU in one kernel (oneDNN post-op), BatchNorm folded away.

``torch.ops.mkldnn._linear_pointwise`` (the kernel torch.compile's CPU backend emits) applies bias and
exact (erf) GELU inside the matrix multiplication, saving two passes over the output. It is used only
when it computes the same function: CPU float32, no autograd, not under export/compile or a dispatch
mode (such as the FLOP counter); otherwise the plain ``gelu(linear(x))`` runs.

Training graphs never contain these: models build plain ``nn.Linear`` / ``nn.GELU`` / ``nn.BatchNorm1d``
modules (so hooks and module-swapping quantisation tools see them), and
:func:`tagformer.models.inference.prepare_for_inference` swaps in :class:`FusedLinear`,
:class:`FusedLinearGELU` and BatchNorm-folded linear layers (:func:`fold_batchnorm`) on an inference copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tagformer.tracing import is_plain_eager


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
        and weight.dtype == torch.float32
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and _fused_available()
        and is_plain_eager()  # not traced, and e.g. FlopCounterMode must see a plain linear
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


class _FusedBase(nn.Module):
    """Holds the weight and bias of an ``nn.Linear`` (the same tensors, not copies)."""

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = source.in_features, source.out_features
        self.weight = source.weight
        self.bias = source.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class FusedLinear(_FusedBase):
    """``nn.Linear`` at inference: the bias is added inside the oneDNN kernel when :func:`linear` can fuse."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class FusedLinearGELU(_FusedBase):
    """``GELU(nn.Linear(x))`` at inference in one oneDNN kernel when :func:`linear_gelu` can fuse.

    Replaces a linear layer; the ``nn.GELU`` that followed it must become ``nn.Identity``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear_gelu(x, self.weight, self.bias)


def batchnorm_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` with ``bn(x) == x * scale + shift`` in eval mode (running statistics)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("only BatchNorms that track running statistics can be folded")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = bn.weight * scale
    shift = -bn.running_mean * scale
    return scale, shift if bn.bias is None else bn.bias + shift


@torch.no_grad()
def fold_batchnorm(
    layer: nn.Linear, before: nn.BatchNorm1d | None = None, after: nn.BatchNorm1d | None = None
) -> nn.Linear:
    """A new ``nn.Linear`` equal to ``after(layer(before(x)))`` with the BatchNorms in eval mode."""
    w, b = layer.weight, layer.bias if layer.bias is not None else layer.weight.new_zeros(layer.out_features)
    if before is not None:
        s, t = batchnorm_affine(before)
        w, b = w * s, b + layer.weight @ t
    if after is not None:
        s, t = batchnorm_affine(after)
        w, b = w * s[:, None], b * s + t
    out = nn.Linear(layer.in_features, layer.out_features, device="meta")
    out.weight = nn.Parameter(w.detach().clone(), requires_grad=False)
    out.bias = nn.Parameter(b.detach().clone(), requires_grad=False)
    return out
