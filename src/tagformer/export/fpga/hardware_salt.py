"""Hardware variant of SAL-T (partitioned low-rank attention with score-map convolutions).

With the reference's ``"position"`` partition rule the grouping is a fixed grid: the particle in slot n
belongs to group ``min(n // C, P - 1)`` with the weight of slot ``min(n - group * C, C - 1)`` (C = slots per
group of the trained model), i.e. the key and value summaries are a constant (H, N, P) matrix applied along
the particle axis. This assumes the data layout (real particles first, padding after), where a particle's
rank among the real ones is its slot. The ``"rank"`` rule divides by each jet's multiplicity and has no
fixed grid, so it is refused.

What the variant changes (docs/fpga.md):

- norms (DyT, scalar DyT or LayerNorm) dropped (exact for runs trained with ``model.norm=none``);
- attention scale ``1/sqrt(head_dim)`` folded into W_q (exact);
- the averaged score-map convolutions as one merged kernel (exact, odd heights), applied as a constant
  (N, P) x (N, P) matrix built from the quantised kernel;
- softmax over the P groups by the exp / reciprocal tables, empty groups masked (bounded error);
- logits-only output.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from tagformer.errors import ModelError
from tagformer.export.fpga.hardware import HardwareModel, _linears, masked_max_pool, softmax_luts, table_softmax
from tagformer.export.fpga.lut import Lut
from tagformer.models.attention.salt import SALTAttention
from tagformer.models.salt import SALT


def group_grid(n: int, parts: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Group and slot of every particle slot 0..n-1 under the position rule (surplus: last group, last slot)."""
    pos = np.arange(n)
    group = np.minimum(pos // chunk, parts - 1)
    return group, np.minimum(pos - group * chunk, chunk - 1)


def group_present(m: Any, n: int, parts: int, chunk: int, ops: Any) -> Any:
    """(..., P) 0/1: the groups holding a real particle. With the real particles first, group p holds one iff
    its first slot ``p * C`` is real; groups starting at or after ``n`` are always empty."""
    starts = np.minimum(np.arange(parts) * chunk, n - 1)
    present = m[..., starts]
    if (np.arange(parts) * chunk >= n).any():
        present = present * ops.constant((np.arange(parts) * chunk < n).astype(np.float64))
    return present


def conv_index(n: int, parts: int, height: int) -> np.ndarray:
    """Index (n, P, n, P) into the flattened (height, P) kernel plus one zero slot (index ``height * P``)
    such that ``kernel_flat[index]`` is the dense matrix of the 'same'-padded convolution over an (n, P)
    map: ``out[r, j] = sum_{a, b} T[r, j, a, b] * in[a, b]`` (PyTorch pads (P - 1) // 2 columns first)."""
    top, left = (height - 1) // 2, (parts - 1) // 2
    r, j, a, b = np.meshgrid(np.arange(n), np.arange(parts), np.arange(n), np.arange(parts), indexing="ij")
    ka, kb = a - r + top, b - j + left
    valid = (ka >= 0) & (ka < height) & (kb >= 0) & (kb < parts)
    return np.where(valid, ka * parts + kb, height * parts)


class _HwSALTAttention(nn.Module):
    """SAL-T attention on one jet's grid: fixed partition weights, merged convolution, table softmax."""

    def __init__(self, attn: SALTAttention) -> None:
        super().__init__()
        if attn.partition_rule != "position":
            raise ModelError("the FPGA variant of salt needs partition_rule='position' (a fixed grid); this run "
                             f"uses {attn.partition_rule!r}: retrain with model.partition_rule=position")
        if any(c.kernel_size[0] % 2 == 0 for c in attn.convs):
            raise ModelError("the FPGA variant of salt needs odd convolution heights")
        self.num_heads, self.head_dim = attn.num_heads, attn.head_dim
        dim = self.num_heads * self.head_dim
        w = attn.qkv.weight.detach()
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        with torch.no_grad():
            for j, lin in enumerate((self.q, self.k, self.v)):
                lin.weight.copy_(w[j * dim:(j + 1) * dim] * (1.0 / math.sqrt(self.head_dim) if j == 0 else 1.0))
        self.key_weights = nn.Parameter(attn.key_weights.detach().clone())
        self.value_weights = nn.Parameter(attn.value_weights.detach().clone())
        self.has_conv = len(attn.convs) > 0
        if self.has_conv:
            kernel, bias = attn.merged_conv()
            self.kernel = nn.Parameter(kernel.detach()[0, 0].clone())  # (height, P)
            self.conv_bias = nn.Parameter(bias.detach().clone())       # (1,)
        self.out = copy.deepcopy(attn.out)

    def _grid(self, weights: torch.Tensor, n: int, ops: Any) -> Any:
        """(H, n, P) weight of every slot in its group's summary (zero outside its group), quantised."""
        _, parts, chunk = weights.shape
        group, slot = group_grid(n, parts, chunk)
        member = torch.as_tensor((group[:, None] == np.arange(parts)[None, :]).astype(np.float64))
        return ops.weight(weights[:, group, slot][..., None] * member)

    def _conv(self, n: int, ops: Any) -> Any:
        height, parts = self.kernel.shape
        flat = torch.cat([self.kernel.reshape(-1), self.kernel.new_zeros(1)])
        return ops.weight(flat[torch.as_tensor(conv_index(n, parts, height))])

    def forward(self, x: Any, m: Any, ops: Any, tag: str, n: int) -> Any:
        heads, parts = self.num_heads, self.key_weights.shape[1]

        def split(t: Any) -> Any:
            return ops.transpose(ops.reshape(t, (n, heads, self.head_dim)), (1, 0, 2))

        keep = m[..., None, :, None]
        q = split(ops.act(f"{tag}.q", ops.linear(x, self.q)))
        k = split(ops.act(f"{tag}.k", ops.linear(x, self.k))) * keep
        v = split(ops.act(f"{tag}.v", ops.linear(x, self.v))) * keep
        keys = ops.act(f"{tag}.keys", ops.const_einsum("hnd,hnp->hpd", k, self._grid(self.key_weights, n, ops)))
        values = ops.act(f"{tag}.values",
                         ops.const_einsum("hnd,hnp->hpd", v, self._grid(self.value_weights, n, ops)))
        s = ops.act(f"{tag}.score", ops.einsum("hnd,hpd->hnp", q, keys)) * m[..., None, :, None]
        if self.has_conv:
            s = ops.const_einsum("hab,njab->hnj", s, self._conv(n, ops)) + ops.weight(self.conv_bias, bias=True)
            s = ops.act(f"{tag}.conv", s)
        present = group_present(m, n, parts, self.key_weights.shape[2], ops)
        last = f"{tag}.conv" if self.has_conv else f"{tag}.score"
        big = 2.0 ** (ops.plan.acts[last].i + 1) if ops.quantized else 1e4
        a = ops.act(f"{tag}.attn", table_softmax(s, present[..., None, None, :], ops, big), signed=False)
        o = ops.act(f"{tag}.mix", ops.einsum("hnp,hpd->hnd", a, values))
        o = ops.reshape(ops.transpose(o, (1, 0, 2)), (n, heads * self.head_dim))
        return ops.act(f"{tag}.proj", ops.linear(o, self.out))


class HwSALT(HardwareModel):
    """SAL-T: ReLU embedding, norm-free blocks (x + attn, x + ReLU FFN), masked max pool, ReLU dense, head."""

    def __init__(self, encoder: SALT, head: nn.Linear, cap_bits: int = 3) -> None:
        super().__init__()
        if encoder.masked_pool.mode != "max":
            raise ModelError(f"the FPGA variant of salt needs max pooling, this run uses {encoder.masked_pool.mode!r}")
        self.embed = copy.deepcopy(encoder.embed)
        self.attn = nn.ModuleList(_HwSALTAttention(b.attn) for b in encoder.blocks)
        self.ffn = nn.ModuleList(nn.ModuleList(_linears(b.ffn)) for b in encoder.blocks)
        self.dense = nn.ModuleList(_linears(encoder.head))
        self.head = head
        self.cap_bits = cap_bits
        self.parts = encoder.blocks[0].attn.key_weights.shape[1]
        self.norms = [type(n).__name__ for b in encoder.blocks for n in (b.norm1, b.norm2)]

    def luts(self, bits: int, num_particles: int) -> dict[str, Lut]:
        """exp on [-2**cap_bits, 0] and 1/sum on [0, P] (the softmax runs over the P groups)."""
        return softmax_luts(bits, self.cap_bits, self.parts)

    def forward(self, x: Any, m: Any, ops: Any) -> Any:
        n = x.shape[-2]
        h = ops.act("embed", ops.relu(ops.linear(ops.act("input", x), self.embed)), signed=False)
        for j, (attn, ffn) in enumerate(zip(self.attn, self.ffn, strict=True)):
            tag = f"block{j}"
            h = ops.act(f"{tag}.res1", h + attn(h, m, ops, tag, n))
            f = ops.act(f"{tag}.ffn", ops.relu(ops.linear(h, ffn[0])), signed=False)
            h = ops.act(f"{tag}.res2", h + ops.act(f"{tag}.ffn_out", ops.linear(f, ffn[1])))
        h = ops.act("pool", masked_max_pool(h, m, ops, f"block{len(self.attn) - 1}.res2"))
        for j, lin in enumerate(self.dense):
            h = ops.act(f"dense{j}", ops.relu(ops.linear(h, lin)), signed=False)
        return ops.act("logits", ops.linear(h, self.head))

    def changes(self) -> list[str]:
        dropped = sorted(set(self.norms) - {"Identity"})
        return [f"norms removed ({', '.join(dropped)}; not exact, fine-tuning recovers)" if dropped
                else "no norms to remove (run trained with model.norm=none)",
                "partition weights on the fixed position grid as a constant matrix along the particle axis "
                "(exact for padding after the real particles)",
                "attention scale 1/sqrt(head_dim) folded into W_q (exact)",
                "score-map convolutions merged into one kernel, applied as a constant matrix (exact)",
                f"softmax over the groups: max subtraction over non-empty groups, input saturated at "
                f"-{2 ** self.cap_bits}, exp and reciprocal lookup tables (bounded error)",
                "logits-only output (argmax unchanged)"]
