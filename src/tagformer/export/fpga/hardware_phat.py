"""Hardware variant of PHAT-JeT (grid message passing, attention inside patches, attention between patches).

The grid cells: each particle's rapidity and phi cell (``jet_cells``: origin at the jet's smallest values,
cell 0.05, clamped to 0..63) is computed per jet by the trigger's input stage, outside the circuit, like the
mask; the circuit takes them as two 6-bit unsigned integers per particle (the side inputs: the last two
columns of each particle's inputs). They are not in the LUT or latency estimate.

The grid message passing inside the circuit is PHAT's exact per-pair form (``GridMessagePassing``):
``y_i = b + sum_j W[cell_j - cell_i] * x_j`` over real particles ``j`` whose cell offset lies in the K x K
window. Per pair (i, j) the offsets ``du = u_j - u_i``, ``dv = v_j - v_i`` are subtracted, shifted by
``before + 1`` and saturated onto ``[0, 2**b - 1]`` (b = ceil(log2(K + 2)) bits: window offsets land on
1..K, every offset outside the window on 0 or on K + 1..2**b - 1), packed into one 2b-bit index, and a
lookup table per channel (a 2**(2b)-way multiplexer over constants: the kernel weight of the offset, 0
outside the window) selects the weight, which multiplies ``x_j`` (a variable product) before the sum over
``j``. So the selection is exact (no approximation) and costs one table and one product per pair and
channel: the grid part grows as ``N**2 * dim``.

What the variant changes (docs/fpga.md):

- norms (LayerNorm or another) dropped (exact for runs trained with ``model.norm=none``);
- attention scale ``1/sqrt(head_dim)`` folded into W_q and b_q of both attentions (exact);
- softmax (inside patches over their real particles, between patches over the non-empty patches) by the exp
  table on the max-shifted, capped score and the reciprocal table (bounded error);
- patch tokens by mean: sum over the patch's real particles times ``1/count`` from a table (bounded error;
  exact by ``model.patch_pool=max``, a masked max);
- FFN activation ReLU (exact for runs trained with ``model.activation=relu``, else not: fine-tuning recovers);
- logits-only output.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError
from tagformer.export.fpga.fixed import FixedSpec
from tagformer.export.fpga.hardware import HardwareModel, masked_max_pool, softmax_luts, split_qkv, table_softmax
from tagformer.export.fpga.lut import Lut
from tagformer.models.layers.cells import jet_cells
from tagformer.models.phat import PHAT, PHATBlock

#: Grid cells enter as unsigned 6-bit integers: ``jet_cells`` clamps them to 0..63 (``max_cells=64``).
CELL_SPEC = FixedSpec(0, 6, 0)


def offset_bits(kernel_size: int) -> int:
    """Bits b of a saturated, shifted cell offset: window offsets on 1..K, outside ones on 0 or K + 1.."""
    return math.ceil(math.log2(kernel_size + 2))


def kernel_index(kernel_size: int) -> np.ndarray:
    """For every packed index ``a * 2**b + c`` (a, c the saturated shifted offsets) the row of the flattened
    (K * K) kernel it selects, or ``K * K`` (a zero row) outside the window."""
    b = offset_bits(kernel_size)
    a, c = np.divmod(np.arange(4**b), 2**b)
    inside = (a >= 1) & (a <= kernel_size) & (c >= 1) & (c <= kernel_size)
    return np.where(inside, (a - 1) * kernel_size + (c - 1), kernel_size * kernel_size)


def count_reciprocal_lut(bits: int, patch_size: int) -> Lut:
    """``1 / max(count, 1)`` for the count of real particles in a patch (integer input, ``bits + 1``-bit output)."""
    inp = FixedSpec(0, math.ceil(math.log2(patch_size + 1)), 0)
    return Lut("count_reciprocal", inp, FixedSpec(0, 1, bits), lambda x: 1.0 / np.maximum(x, 1.0),
               lambda x: 1.0 / torch.clamp(x, min=1.0))


class _HwHeads(nn.Module):
    """Q, K, V (scale folded into Q) and output projection of one PHAT multi-head attention."""

    def __init__(self, heads: nn.Module) -> None:
        super().__init__()
        dim = heads.qkv.in_features
        self.num_heads, self.head_dim = heads.num_heads, dim // heads.num_heads
        scale = 1.0 / math.sqrt(self.head_dim)
        w, b = heads.qkv.weight.detach(), heads.qkv.bias.detach()
        self.q, self.k, self.v = split_qkv(w, b, dim, scale)
        self.out = copy.deepcopy(heads.out)

    def split(self, t: Any, ops: Any, rows: int) -> Any:
        """(rows, D) -> (H, rows, head_dim)."""
        return ops.transpose(ops.reshape(t, (rows, self.num_heads, self.head_dim)), (1, 0, 2))

    def merge(self, o: Any, ops: Any, rows: int) -> Any:
        return ops.reshape(ops.transpose(o, (1, 0, 2)), (rows, self.num_heads * self.head_dim))

    def qkv(self, x: Any, ops: Any, tag: str, rows: int) -> tuple[Any, Any, Any]:
        return tuple(self.split(ops.act(f"{tag}.{name}", ops.linear(x, lin)), ops, rows)  # type: ignore[return-value]
                     for name, lin in (("q", self.q), ("k", self.k), ("v", self.v)))

    def attend(self, q: Any, k: Any, v: Any, keys: Any, ops: Any, tag: str) -> Any:
        """Scores, masked table softmax over ``keys`` (..., L) and mixing: (H, L, head_dim)."""
        s = ops.act(f"{tag}.score", ops.einsum("hqd,hkd->hqk", q, k))
        big = 2.0 ** (ops.plan.acts[f"{tag}.score"].i + 1) if ops.quantized else 1e4
        a = ops.act(f"{tag}.attn", table_softmax(s, keys[..., None, None, :], ops, big), signed=False)
        return ops.einsum("hqk,hkd->hqd", a, v)


class _HwPHATBlock(nn.Module):
    """Grid message passing, patch attention, patch-token attention, FFN; residuals, no norms."""

    def __init__(self, block: PHATBlock, patch_size: int, patch_pool: str) -> None:
        super().__init__()
        grid = block.gmp.grid
        self.kernel_size, self.channels = grid.kernel_size, grid.channels
        self.kernel = nn.Parameter(grid.weight.detach().reshape(self.channels, -1).t().clone())  # (K*K, C)
        self.grid_bias = nn.Parameter(grid.bias.detach().clone())
        self.gmp_dense = copy.deepcopy(block.gmp.dense)
        self.patch = _HwHeads(block.patch_attn.heads)
        self.tokens = _HwHeads(block.token_attn.heads)
        self.token_proj = copy.deepcopy(block.token_attn.proj)
        self.fc1, self.fc2 = copy.deepcopy(block.fc1), copy.deepcopy(block.fc2)
        self.patch_size, self.patch_pool = patch_size, patch_pool

    def table(self) -> torch.Tensor:
        """(4**b, C): the kernel weight selected by every packed offset index, zeros outside the window."""
        rows = torch.cat([self.kernel, self.kernel.new_zeros(1, self.channels)])
        return rows[torch.as_tensor(kernel_index(self.kernel_size))]

    def grid(self, x: Any, u: Any, v: Any, ops: Any, tag: str) -> Any:
        """``y_i = b + sum_j W[cell_j - cell_i] x_j`` (padded ``x_j`` are zero), exact per-pair selection."""
        bits = offset_bits(self.kernel_size)
        spec = FixedSpec(0, bits, 0)
        shift = (self.kernel_size - 1) // 2 + 1
        du = ops.fixed(u[..., None, :] - u[..., :, None] + shift, spec)  # (N, N): i, j
        dv = ops.fixed(v[..., None, :] - v[..., :, None] + shift, spec)
        w = ops.gather(du * 2**bits + dv, self.table())  # (N, N, C)
        y = ops.sum(w * x[..., None, :, :], axis=-2) + ops.weight(self.grid_bias, bias=True)
        return ops.act(f"{tag}.grid", y)

    def patch_attention(self, x: Any, m: Any, ops: Any, tag: str, n: int) -> Any:
        q, k, v = self.patch.qkv(x, ops, f"{tag}.patch", n)
        outs = []
        for start in range(0, n, self.patch_size):
            sl = slice(start, min(start + self.patch_size, n))
            outs.append(self.patch.attend(q[..., sl, :], k[..., sl, :], v[..., sl, :], m[..., sl], ops,
                                          f"{tag}.patch"))
        o = ops.act(f"{tag}.patch.mix", ops.concat(outs, axis=1))
        return ops.act(f"{tag}.patch.proj", ops.linear(self.patch.merge(o, ops, n), self.patch.out))

    def _token(self, xs: Any, ms: Any, present: Any, ops: Any, tag: str) -> Any:
        """One patch's token (1, D): masked mean (sum times the count's reciprocal) or masked max (0 for a
        patch without real particles, as in the model)."""
        if self.patch_pool == "mean":
            total = ops.sum(xs * ms[..., None], axis=-2)[..., None, :]
            count = ops.sum(ms[..., None], axis=-2)  # (1,)
            return total * ops.lut("count_reciprocal", count)[..., None]
        big = 2.0 ** (ops.plan.acts[f"{tag}.patch_out"].i + 1) if ops.quantized else 1e4
        return ops.max(xs + (ms[..., None] - 1.0) * big, axis=-2)[..., None, :] * present[..., None]

    def token_attention(self, x: Any, m: Any, ops: Any, tag: str, n: int) -> Any:
        tokens, present = [], []
        for start in range(0, n, self.patch_size):
            sl = slice(start, min(start + self.patch_size, n))
            present.append(ops.max(m[..., sl, None], axis=-2))  # (1,): the patch holds a real particle
            tokens.append(self._token(x[..., sl, :], m[..., sl], present[-1], ops, tag))
        parts = len(tokens)
        t = ops.act(f"{tag}.token", ops.concat(tokens, axis=0))  # (NP, D)
        q, k, v = self.tokens.qkv(t, ops, f"{tag}.tokens", parts)
        o = ops.act(f"{tag}.tokens.mix", self.tokens.attend(q, k, v, ops.concat(present, axis=0), ops,
                                                            f"{tag}.tokens"))
        o = ops.act(f"{tag}.tokens.out", ops.linear(self.tokens.merge(o, ops, parts), self.tokens.out))
        msg = ops.act(f"{tag}.tokens.proj", ops.linear(o, self.token_proj))  # (NP, D)
        return msg[..., np.arange(n) // self.patch_size, :]  # each particle gets its patch's message

    def forward(self, x: Any, m: Any, u: Any, v: Any, ops: Any, tag: str, n: int, activation: str) -> Any:
        g = self.grid(x, u, v, ops, tag)
        x = ops.act(f"{tag}.gmp", x + ops.act(f"{tag}.gmp_dense", ops.linear(g, self.gmp_dense)))
        x = ops.act(f"{tag}.patch_out", x + self.patch_attention(x, m, ops, tag, n))
        x = ops.act(f"{tag}.token_out", x + self.token_attention(x, m, ops, tag, n))
        f = ops.linear(x, self.fc1)
        f = ops.relu(f) if activation == "relu" else torch.nn.functional.gelu(f)
        f = ops.act(f"{tag}.ffn", f, signed=activation != "relu")
        x = ops.act(f"{tag}.res", x + ops.act(f"{tag}.ffn_out", ops.linear(f, self.fc2)))
        return x * m[..., None]


class HwPHAT(HardwareModel):
    """PHAT-JeT without norms, grid cells as side inputs, table softmax, max pooling (see module doc).

    ``activation="gelu"`` keeps a GELU FFN (float mode only; used to check the rewrite against a GELU model).
    """

    side_columns = 2
    side_spec = CELL_SPEC

    def __init__(self, encoder: PHAT, head: nn.Linear, activation: str = "relu", cap_bits: int = 3) -> None:
        super().__init__()
        if encoder.masked_pool.mode != "max":
            raise ModelError(f"the FPGA variant of phat needs max pooling, this run uses {encoder.masked_pool.mode!r}")
        first = encoder.blocks[0]
        self.patch_size = encoder.patch_size
        self.cell_size = encoder.cell_size
        self.embed = copy.deepcopy(encoder.embed[0])
        self.blocks = nn.ModuleList(_HwPHATBlock(b, encoder.patch_size, b.token_attn.pool) for b in encoder.blocks)
        self.jet = copy.deepcopy(encoder.jet_mlp[0])
        self.head = head
        self.activation, self.cap_bits = activation, cap_bits
        self.patch_pool = first.token_attn.pool
        self.trained_activation = "relu" if isinstance(first.act, nn.ReLU) else "gelu"
        self.norms = sorted({type(mod).__name__ for b in encoder.blocks for mod in (b.gmp.norm, b.norm1, b.norm2)})

    def side_inputs(self, batch: JetBatch) -> torch.Tensor:
        """(B, N, 2) rapidity and phi cells, as the model computes them (the trigger's input stage)."""
        return jet_cells(batch.p4, batch.mask, self.cell_size).double()

    def luts(self, bits: int, num_particles: int) -> dict[str, Lut]:
        """exp, 1/sum over at most max(P, patches) keys, and 1/count for the patch means."""
        patch = min(self.patch_size, num_particles)
        keys = max(patch, -(-num_particles // self.patch_size))
        return {**softmax_luts(bits, self.cap_bits, keys), "count_reciprocal": count_reciprocal_lut(bits, patch)}

    def forward(self, x: Any, m: Any, ops: Any) -> Any:
        n = x.shape[-2]
        u, v = x[..., -2], x[..., -1]
        h = ops.act("embed", ops.relu(ops.linear(ops.act("input", x[..., :-2]), self.embed)), signed=False)
        h = h * m[..., None]
        for j, block in enumerate(self.blocks):
            h = block(h, m, u, v, ops, f"block{j}", n, self.activation)
        h = ops.act("pool", masked_max_pool(h, m, ops, f"block{len(self.blocks) - 1}.res"))
        h = ops.act("jet", ops.relu(ops.linear(h, self.jet)), signed=False)
        return ops.act("logits", ops.linear(h, self.head))

    def changes(self) -> list[str]:
        dropped = [n for n in self.norms if n != "Identity"]
        mean = self.patch_pool == "mean"
        return [f"norms removed ({', '.join(dropped)}; not exact, fine-tuning recovers)" if dropped
                else "no norms to remove (run trained with model.norm=none)",
                "grid cells (rapidity, phi; 6-bit unsigned) computed per jet by the input stage, outside the "
                "circuit, like the mask",
                "grid message passing per particle pair: cell offsets subtracted and saturated, the kernel weight "
                "selected by a lookup table (multiplexer) on the packed offset, 0 outside the K x K window, times "
                "the neighbour's features (exact)",
                "attention scale 1/sqrt(head_dim) folded into W_q and b_q of both attentions (exact)",
                f"softmax inside patches and between patches: max subtraction over real keys, input saturated at "
                f"-{2 ** self.cap_bits}, exp and reciprocal lookup tables (bounded error)",
                "patch tokens by mean: sum times 1/count from a lookup table (bounded error)" if mean
                else "patch tokens by masked max (exact)",
                "FFN activation ReLU (as trained: exact)" if self.trained_activation == "relu"
                else "FFN activation ReLU instead of GELU (not exact; fine-tuning recovers)",
                "logits-only output (argmax unchanged)"]
