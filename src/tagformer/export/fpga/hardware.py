"""Hardware variants of zoo models: the same weights, rewritten for a fixed-point, fully unrolled circuit.

Each variant takes **normalised** features ``x`` (B, N, F) and the particle mask ``m`` (B, N) as 0/1 values
(input normalisation is done upstream, like the trigger's input formatting) and returns class logits; its
``forward(x, m, ops)`` is written once against :mod:`tagformer.export.fpga.ops`, so the torch quantised model
and the da4ml circuit execute the same operations.

What each variant changes (see docs/fpga.md):

- ``deepsets`` (sum pooling): nothing but the explicit mask multiply; float-identical to the model.
- ``transformer`` (max pooling): no LayerNorm (dropped); attention scale ``1/sqrt(d)`` folded into W_q and
  b_q (exact); softmax = max subtraction over real keys, input capped at ``-2**cap_bits`` and passed
  through an exp lookup table, sum, reciprocal lookup table; FFN activation ReLU instead of GELU;
  logits-only output. Fine-tuning recovers what the dropped norms and the activation change cost.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import ModelError
from tagformer.export.fpga.fixed import FixedSpec
from tagformer.export.fpga.lut import Lut, exp_lut, reciprocal_lut
from tagformer.models.baselines import DeepSets
from tagformer.models.tagger import Tagger
from tagformer.models.transformer import Transformer


def _linears(module: nn.Module | None) -> list[nn.Linear]:
    return [] if module is None else [copy.deepcopy(m) for m in module.modules() if isinstance(m, nn.Linear)]


def _head(tagger: Tagger) -> nn.Linear:
    head = tagger.heads[tagger.primary]
    linear = getattr(head, "linear", None)
    if not isinstance(linear, nn.Linear):
        raise ModelError(f"the FPGA path needs a classification head; the run's primary head is {tagger.primary!r}")
    return copy.deepcopy(linear)


class HardwareModel(nn.Module):
    """Base of the hardware variants: ``forward(x, m, ops)`` -> logits; ``luts(bits, n)`` its tables.

    ``side_inputs(batch)``: per-particle integers (B, N, ``side_columns``) computed outside the circuit and
    appended to the features as the last columns of ``x``, on the fixed format ``side_spec``; none by default.
    """

    side_columns: int = 0
    side_spec: FixedSpec = FixedSpec(0, 1, 0)

    def side_inputs(self, batch: JetBatch) -> torch.Tensor | None:
        return None

    def luts(self, bits: int, num_particles: int) -> dict[str, Lut]:
        return {}

    def changes(self) -> list[str]:
        return []


class HwDeepSets(HardwareModel):
    """Deep Sets: per-particle MLP (ReLU), masked sum, jet MLP (ReLU), linear head."""

    def __init__(self, encoder: DeepSets, head: nn.Linear) -> None:
        super().__init__()
        if encoder.masked_pool.mode != "sum":
            raise ModelError(f"the FPGA variant of deepsets needs sum pooling, this run uses "
                             f"{encoder.masked_pool.mode!r}")
        self.phi = nn.ModuleList(_linears(encoder.phi))
        self.rho = nn.ModuleList(_linears(encoder.rho))
        self.head = head

    def forward(self, x: Any, m: Any, ops: Any) -> Any:
        h = ops.act("input", x)
        for j, lin in enumerate(self.phi):
            h = ops.act(f"phi{j}", ops.relu(ops.linear(h, lin)), signed=False)
        h = ops.act("pool", ops.sum(h * m[..., None], axis=-2), signed=False)
        for j, lin in enumerate(self.rho):
            h = ops.act(f"rho{j}", ops.relu(ops.linear(h, lin)), signed=False)
        return ops.act("logits", ops.linear(h, self.head))

    def changes(self) -> list[str]:
        return ["padded particles removed by multiplying phi's output with the 0/1 mask (exact)"]


def table_softmax(s: Any, keys: Any, ops: Any, big: float) -> Any:
    """Softmax over the last axis of scores ``s`` restricted to ``keys`` (0/1, broadcastable to ``s``).

    Padded keys are pushed ``big`` below every real score so the max is taken over real keys; the shifted
    scores (<= 0) go through the ``exp`` table (input saturated at its lower end: the cap), padded keys are
    zeroed, and the sum through the ``reciprocal`` table. With float ops (no plan) the tables are the exact
    functions, so this equals ``softmax`` over the real keys. ``keys=None``: every key is real.
    """
    if keys is not None:
        s = s + (keys - 1.0) * big
    e = ops.lut("exp", s - ops.max(s, axis=-1)[..., None])
    if keys is not None:
        e = e * keys
    return e * ops.lut("reciprocal", ops.sum(e, axis=-1))[..., None]


def softmax_luts(bits: int, cap_bits: int, max_keys: int) -> dict[str, Lut]:
    """The softmax tables: exp on [-2**cap_bits, 0] and 1/sum on [0, max_keys], ``bits``-wide inputs."""
    exp_in = FixedSpec(1, cap_bits, max(bits - 1 - cap_bits, 1))
    prob = FixedSpec(0, 1, max(bits - 1, 1))
    n_bits = math.ceil(math.log2(max_keys + 1))
    sum_in = FixedSpec(0, n_bits, max(bits - n_bits, 1))
    return {"exp": exp_lut(exp_in, prob), "reciprocal": reciprocal_lut(sum_in, prob)}


def split_qkv(weight: torch.Tensor, bias: torch.Tensor, dim: int, q_scale: float) -> tuple[nn.Linear, ...]:
    """Separate q, k, v layers from a fused (3 dim, dim) projection, ``q_scale`` folded into q."""
    layers = tuple(nn.Linear(dim, dim) for _ in range(3))
    with torch.no_grad():
        for j, lin in enumerate(layers):
            lin.weight.copy_(weight[j * dim:(j + 1) * dim] * (q_scale if j == 0 else 1.0))
            lin.bias.copy_(bias[j * dim:(j + 1) * dim] * (q_scale if j == 0 else 1.0))
    return layers


def masked_max_pool(h: Any, m: Any, ops: Any, last: str) -> Any:
    """Max over real particles: padded rows pushed below the range of activation ``last``, then max."""
    big = 2.0 ** (ops.plan.acts[last].i + 1) if ops.quantized else 1e4
    return ops.max(h + (m[..., None] - 1.0) * big, axis=-2)


def residual_ffn(block: Any, x: Any, o: Any, n: int, ops: Any, tag: str, activation: str) -> Any:
    """The part every attention block variant shares after its attention: heads (H, n, d) merged and
    projected (``block.out``) onto the residual, then the feed-forward pair (``block.ffn1``/``ffn2``, ReLU, or
    GELU in float checks) onto the residual; activations quantised under ``tag``."""
    o = ops.reshape(ops.transpose(o, (1, 0, 2)), (n, block.num_heads * block.head_dim))
    x = ops.act(f"{tag}.res1", x + ops.act(f"{tag}.proj", ops.linear(o, block.out)))
    f = ops.linear(x, block.ffn1)
    f = ops.relu(f) if activation == "relu" else torch.nn.functional.gelu(f)
    f = ops.act(f"{tag}.ffn", f, signed=activation != "relu")
    return ops.act(f"{tag}.res2", x + ops.act(f"{tag}.ffn_out", ops.linear(f, block.ffn2)))


class _HwBlock(nn.Module):
    """One encoder block without norms: x + MHA(x), then x + FFN(x)."""

    def __init__(self, block: nn.Module, num_heads: int, scale_folded: bool = True) -> None:
        super().__init__()
        attn = block.attn
        dim, self.num_heads, self.head_dim = attn.dim, num_heads, attn.head_dim
        scale = 1.0 / math.sqrt(self.head_dim) if scale_folded else 1.0
        w, b = attn.in_proj.weight.detach(), attn.in_proj.bias.detach()
        self.q, self.k, self.v = split_qkv(w, b, dim, scale)
        self.scale = 1.0 if scale_folded else 1.0 / math.sqrt(self.head_dim)
        self.out = copy.deepcopy(attn.out_proj)
        self.ffn1, self.ffn2 = _linears(block.ffn)

    def _heads(self, t: Any, ops: Any, n: int) -> Any:
        return ops.transpose(ops.reshape(t, (n, self.num_heads, self.head_dim)), (1, 0, 2))

    def forward(self, x: Any, m: Any, ops: Any, tag: str, activation: str, n: int) -> Any:
        q = self._heads(ops.act(f"{tag}.q", ops.linear(x, self.q)), ops, n)
        k = self._heads(ops.act(f"{tag}.k", ops.linear(x, self.k)), ops, n)
        v = self._heads(ops.act(f"{tag}.v", ops.linear(x, self.v)), ops, n)
        s = ops.einsum("hnd,hmd->hnm", q, k)
        if self.scale != 1.0:
            s = s * self.scale
        s = ops.act(f"{tag}.score", s)
        big = 2.0 ** (ops.plan.acts[f"{tag}.score"].i + 1) if ops.quantized else 1e4
        a = ops.act(f"{tag}.attn", table_softmax(s, m[..., None, None, :], ops, big), signed=False)
        o = ops.act(f"{tag}.mix", ops.einsum("hnm,hmd->hnd", a, v))
        return residual_ffn(self, x, o, n, ops, tag, activation)


class HwTransformer(HardwareModel):
    """Plain transformer with max pooling, without norms, scale folded, table softmax (see module doc).

    ``activation="gelu"`` keeps the float model's FFN activation (float mode only; used to check the
    rewrite against the original model built without norms).
    """

    def __init__(self, encoder: Transformer, head: nn.Linear, activation: str = "relu",
                 scale_folded: bool = True, cap_bits: int = 3) -> None:
        super().__init__()
        if encoder.pooling != "max":
            raise ModelError(f"the FPGA variant of transformer needs max pooling, this run uses {encoder.pooling!r}")
        self.embed = copy.deepcopy(encoder.embed)
        heads = encoder.blocks[0].attn.num_heads
        self.blocks = nn.ModuleList(_HwBlock(b, heads, scale_folded) for b in encoder.blocks)
        self.head = head
        self.activation, self.cap_bits = activation, cap_bits

    def luts(self, bits: int, num_particles: int) -> dict[str, Lut]:
        """exp on [-2**cap_bits, 0] and 1/sum on [0, N], ``bits``-wide inputs."""
        return softmax_luts(bits, self.cap_bits, num_particles)

    def forward(self, x: Any, m: Any, ops: Any) -> Any:
        n = x.shape[-2]
        h = ops.act("embed", ops.linear(ops.act("input", x), self.embed))
        for j, block in enumerate(self.blocks):
            h = block(h, m, ops, f"block{j}", self.activation, n)
        h = ops.act("pool", masked_max_pool(h, m, ops, f"block{len(self.blocks) - 1}.res2"))
        return ops.act("logits", ops.linear(h, self.head))

    def changes(self) -> list[str]:
        return ["LayerNorms removed (not exact; fine-tuning recovers)",
                "attention scale 1/sqrt(head_dim) folded into W_q and b_q (exact)",
                f"softmax: max subtraction over real keys, input saturated at -{2 ** self.cap_bits}, exp and "
                "reciprocal lookup tables (bounded error)",
                "FFN activation ReLU instead of GELU (not exact; fine-tuning recovers)",
                "logits-only output (argmax unchanged)"]
