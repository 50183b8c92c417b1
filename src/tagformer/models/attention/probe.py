"""One seam for reading attention weights out of any zoo model, off by default and free when off.

Every attention module of the zoo derives from :class:`AttentionProbe`. Inside
``with capture_attention(model) as maps:`` each of them appends, per call, an :class:`AttentionMap`
with its weights **in its own terms** (particles, patch members, patch tokens, Linformer's projected
keys, SAL-T's partitions, LSH blocks, a class token); outside the context a module only tests one
attribute for ``None``. No forward hooks on private functions are needed.

Every map's rows sum to 1 over the real keys (``key_mask``) for every real query (``query_mask``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AttentionMap:
    """Attention weights of one call of one attention module.

    Attributes
    ----------
    weights : (B, H, Nq, Nk) softmax weights (float32, detached).
    kind : what queries and keys are: ``"particles"`` (particle x particle), ``"class_token"`` (one
        class-token query over ``[cls, particles]``), ``"patch"`` (particles within patches:
        B counts jets x patches), ``"patch_tokens"`` (patch token x patch token), ``"linformer"``
        (particles x k projected keys), ``"partitions"`` (SAL-T: particles x k partitions),
        ``"lsh_blocks"`` (HEPT: sorted particles within blocks).
    query_mask : (B, Nq) True for real queries, or None when all are real.
    key_mask : (B, Nk) True for real keys, or None when all are real.
    query_index, key_index : (B, Nq) / (B, Nk) the particle each query / key stands for, where a
        model reorders or groups particles (-1 = none); None when queries/keys are the particles in
        batch order or are not particles at all.
    """

    weights: torch.Tensor
    kind: str
    query_mask: torch.Tensor | None = None
    key_mask: torch.Tensor | None = None
    query_index: torch.Tensor | None = None
    key_index: torch.Tensor | None = None


class AttentionProbe(nn.Module):
    """Mixin base of attention modules: :meth:`probing` and :meth:`emit` (a no-op unless captured)."""

    _probe_sink: list[AttentionMap] | None = None

    @property
    def probing(self) -> bool:
        return self._probe_sink is not None

    def emit(self, weights: torch.Tensor, kind: str, **extra: torch.Tensor | None) -> None:
        if self._probe_sink is not None:
            self._probe_sink.append(AttentionMap(weights=weights.detach().float(), kind=kind, **extra))


def softmax_weights(q: torch.Tensor, k: torch.Tensor, attn_mask: torch.Tensor | None = None,
                    scale: float | None = None) -> torch.Tensor:
    """Explicit ``softmax(q k^T * scale + mask)`` for (B, H, Nq, d) queries and (B, H, Nk, d) keys,
    with the same mask semantics as ``scaled_dot_product_attention`` (bool True = attend, or additive)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask.float()
    return scores.softmax(dim=-1)


@contextmanager
def capture_attention(model: nn.Module) -> Iterator[dict[str, list[AttentionMap]]]:
    """Record the attention maps of every :class:`AttentionProbe` in ``model`` while the block runs.

    Yields a dict ``{module name: [AttentionMap per call]}`` filled as the model runs.
    """
    maps: dict[str, list[AttentionMap]] = {}
    probes = [(name, m) for name, m in model.named_modules() if isinstance(m, AttentionProbe)]
    for name, module in probes:
        module._probe_sink = maps.setdefault(name, [])
    try:
        yield maps
    finally:
        for _, module in probes:
            module._probe_sink = None
