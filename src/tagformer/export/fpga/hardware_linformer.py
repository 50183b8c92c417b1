"""Hardware variant of the Linformer (keys and values projected along the particle axis to k rows).

The learned (N, k) projections are constants along the particle axis, so they map onto the circuit as one
more constant matrix; attention then runs over k projected keys (all real), which makes the softmax
k-wide instead of N-wide. What the variant changes (docs/fpga.md):

- norms (pre-norm LayerNorm/DyT and the final norm) dropped (exact for runs trained with
  ``model.norm=none``);
- attention scale ``1/sqrt(head_dim)`` folded into W_q and b_q (exact);
- softmax over the k projected keys by the exp / reciprocal tables (bounded error);
- FFN activation ReLU instead of GELU (not exact; fine-tuning recovers);
- logits-only output.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from torch import nn

from tagformer.errors import ModelError
from tagformer.export.fpga.hardware import (
    HardwareModel,
    _linears,
    masked_max_pool,
    residual_ffn,
    softmax_luts,
    split_qkv,
    table_softmax,
)
from tagformer.export.fpga.lut import Lut
from tagformer.models.linformer import Linformer


class _HwLinformerBlock(nn.Module):
    """x + LinformerAttention(x), then x + FFN(x), without norms."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        attn, mha = block.attn, block.attn.mha
        if mha.head_scale is not None:
            raise ModelError("the FPGA variant of linformer does not support per-head output scales")
        dim, self.num_heads, self.head_dim = mha.dim, mha.num_heads, mha.head_dim
        scale = 1.0 / math.sqrt(self.head_dim)
        w, b = mha.in_proj.weight.detach(), mha.in_proj.bias.detach()
        self.q, self.k, self.v = split_qkv(w, b, dim, scale)
        self.proj_k = nn.Parameter(attn.proj_k.detach().clone())
        self.proj_v = None if attn.proj_v is None else nn.Parameter(attn.proj_v.detach().clone())
        self.out = copy.deepcopy(mha.out_proj)
        self.ffn1, self.ffn2 = _linears(block.ffn)

    def _heads(self, t: Any, ops: Any, rows: int) -> Any:
        return ops.transpose(ops.reshape(t, (rows, self.num_heads, self.head_dim)), (1, 0, 2))

    def forward(self, x: Any, m: Any, ops: Any, tag: str, activation: str, n: int) -> Any:
        keep = m[..., None]
        pk = ops.weight(self.proj_k[:n])
        pv = pk if self.proj_v is None else ops.weight(self.proj_v[:n])
        rows = self.proj_k.shape[1]
        q = self._heads(ops.act(f"{tag}.q", ops.linear(x, self.q)), ops, n)
        k = ops.act(f"{tag}.k", ops.linear(x, self.k)) * keep
        v = ops.act(f"{tag}.v", ops.linear(x, self.v)) * keep
        k = self._heads(ops.act(f"{tag}.kproj", ops.const_einsum("nd,nk->kd", k, pk)), ops, rows)
        v = self._heads(ops.act(f"{tag}.vproj", ops.const_einsum("nd,nk->kd", v, pv)), ops, rows)
        s = ops.act(f"{tag}.score", ops.einsum("hnd,hkd->hnk", q, k))
        a = ops.act(f"{tag}.attn", table_softmax(s, None, ops, 0.0), signed=False)
        o = ops.act(f"{tag}.mix", ops.einsum("hnk,hkd->hnd", a, v))
        return residual_ffn(self, x, o, n, ops, tag, activation)


class HwLinformer(HardwareModel):
    """Linformer with max pooling, without norms, scale folded, table softmax over the k projected keys.

    ``activation="gelu"`` keeps the float model's FFN activation (float mode only; used to check the rewrite
    against the original model built without norms).
    """

    def __init__(self, encoder: Linformer, head: nn.Linear, activation: str = "relu", cap_bits: int = 3) -> None:
        super().__init__()
        if encoder.masked_pool.mode != "max":
            raise ModelError(f"the FPGA variant of linformer needs max pooling, this run uses "
                             f"{encoder.masked_pool.mode!r}")
        self.embed = copy.deepcopy(encoder.embed)
        self.blocks = nn.ModuleList(_HwLinformerBlock(b) for b in encoder.blocks)
        self.head = head
        self.activation, self.cap_bits = activation, cap_bits
        self.norms = sorted({type(mod).__name__ for b in encoder.blocks for mod in (b.norm1, b.norm2)}
                            | {type(encoder.norm).__name__})

    def luts(self, bits: int, num_particles: int) -> dict[str, Lut]:
        """exp on [-2**cap_bits, 0] and 1/sum on [0, k] (the softmax runs over the k projected keys)."""
        return softmax_luts(bits, self.cap_bits, self.blocks[0].proj_k.shape[1])

    def forward(self, x: Any, m: Any, ops: Any) -> Any:
        n = x.shape[-2]
        if n > self.blocks[0].proj_k.shape[0]:
            raise ModelError(f"linformer was built for at most {self.blocks[0].proj_k.shape[0]} particles, got {n}")
        h = ops.act("embed", ops.linear(ops.act("input", x), self.embed))
        for j, block in enumerate(self.blocks):
            h = block(h, m, ops, f"block{j}", self.activation, n)
        h = ops.act("pool", masked_max_pool(h, m, ops, f"block{len(self.blocks) - 1}.res2"))
        return ops.act("logits", ops.linear(h, self.head))

    def changes(self) -> list[str]:
        dropped = [n for n in self.norms if n != "Identity"]
        return [f"norms removed ({', '.join(dropped)}; not exact, fine-tuning recovers)" if dropped
                else "no norms to remove (run trained with model.norm=none)",
                "sequence projections E, F as constant matrices along the particle axis (exact)",
                "attention scale 1/sqrt(head_dim) folded into W_q and b_q (exact)",
                f"softmax over the k projected keys: max subtraction, input saturated at -{2 ** self.cap_bits}, "
                "exp and reciprocal lookup tables (bounded error)",
                "FFN activation ReLU instead of GELU (not exact; fine-tuning recovers)",
                "logits-only output (argmax unchanged)"]
