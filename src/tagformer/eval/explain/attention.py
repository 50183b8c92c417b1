"""Attention maps of one batch through the probe, resolved against the batch's particles.

Every attention module records :class:`~tagformer.models.attention.probe.AttentionMap` s in its own terms.
:func:`collect_attention` runs a model once under
:func:`~tagformer.models.attention.probe.capture_attention` and returns, per module, the maps with their
real queries and keys made explicit and, where it is defined, the **effective particle x particle map**
(B, H, N, N): entry (i, j) is how much particle i's output draws on particle j, in batch slots.

It is defined

- for maps whose queries and keys are particles: ``"particles"`` (slots in batch order unless the map
  gives ``query_index`` / ``key_index``), and maps that give both indices (``"patch"`` members,
  ``"lsh_blocks"``). A leading axis of ``B x G`` is read as G groups (patches, blocks, hash tables) per jet,
  jet-major; a particle that is a query in several groups gets the mean of its rows;
- for compressed keys (Linformer's projections, SAL-T's partitions) when the Python module that defines
  the attention class (or its parent module's class) provides ``effective_particle_weights(weights,
  attention, mask)``; such maps may be signed and need not sum to 1 (``stochastic`` False).

A module called several times in one forward pass (e.g. one call per hash table) gets the mean of its
calls' effective maps. ``"class_token"`` maps give the attention each particle **receives** from the class
token(s) instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.models.attention.probe import AttentionMap, AttentionProbe, capture_attention

#: Kinds whose queries are the particle slots in batch order when a map has no ``query_index``.
QUERIES_ARE_SLOTS = ("particles", "linformer", "partitions")
#: Kinds whose keys are the particle slots in batch order when a map has no ``key_index``.
KEYS_ARE_SLOTS = ("particles",)


@dataclass
class ModuleAttention:
    """What one attention module attended to in one forward pass.

    Attributes
    ----------
    name : module name in the model.
    kind : the maps' kind (see :class:`~tagformer.models.attention.probe.AttentionMap`).
    calls : the recorded maps, one per call, weights in the module's own terms (on CPU).
    query_masks, key_masks : per call, (B', Nq) / (B', Nk) real queries and keys.
    particle : (B, H, N, N) effective particle x particle map (mean over calls), or None.
    stochastic : whether every real row of ``particle`` is a distribution over real particles.
    uniform : (B, H, N, N) effective map of uniform weights over each row's real keys (the baseline), or None.
    received : (B, H, N) attention each real particle receives (mean over real query rows of
        ``particle``, or the class token's weights), or None.
    """

    name: str
    kind: str
    calls: list[AttentionMap]
    query_masks: list[torch.Tensor]
    key_masks: list[torch.Tensor]
    particle: torch.Tensor | None = None
    stochastic: bool = False
    uniform: torch.Tensor | None = None
    received: torch.Tensor | None = None

    @property
    def num_heads(self) -> int:
        return int(self.calls[0].weights.shape[1])


def has_attention(model: nn.Module) -> bool:
    """Whether ``model`` holds at least one attention probe."""
    return any(isinstance(m, AttentionProbe) for m in model.modules())


def _groups(amap: AttentionMap, jets: int) -> int | None:
    rows = int(amap.weights.shape[0])
    return rows // jets if rows % jets == 0 else None


def _real_at(mask: torch.Tensor, index: torch.Tensor, groups: int) -> torch.Tensor:
    """(B', L) True where ``index`` names a real particle of the row's jet."""
    jet = torch.arange(index.shape[0]) // groups
    n = mask.shape[1]
    safe = index.clamp(0, n - 1)
    return (index >= 0) & (index < n) & mask[jet[:, None], safe]


def resolve_masks(amap: AttentionMap, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B', Nq) real queries and (B', Nk) real keys of ``amap`` for a batch with particle ``mask`` (B, N)."""
    bp, _, nq, nk = amap.weights.shape
    b, n = mask.shape
    q = torch.ones(bp, nq, dtype=torch.bool) if amap.query_mask is None else amap.query_mask.bool().cpu()
    k = torch.ones(bp, nk, dtype=torch.bool) if amap.key_mask is None else amap.key_mask.bool().cpu()
    groups = _groups(amap, b)
    if amap.query_index is not None and amap.query_index.ndim == 2 and groups:
        q = q & _real_at(mask, amap.query_index.cpu(), groups)
    elif amap.query_mask is None and amap.kind in QUERIES_ARE_SLOTS and bp == b and nq <= n:
        q = mask[:, :nq].clone()
    if amap.key_index is not None and amap.key_index.ndim == 2 and groups:
        k = k & _real_at(mask, amap.key_index.cpu(), groups)
    elif amap.key_mask is None and amap.kind in KEYS_ARE_SLOTS and bp == b and nk <= n:
        k = mask[:, :nk].clone()
    return q, k


def _particle_indices(amap: AttentionMap, jets: int, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(B', Nq) and (B', Nk) particle slots of queries and keys, or None when they are not particles."""
    bp, _, nq, nk = amap.weights.shape
    qi, ki = amap.query_index, amap.key_index
    if qi is not None and ki is not None:
        if qi.ndim != 2 or ki.ndim != 2 or _groups(amap, jets) is None:
            return None
        return qi.cpu().long(), ki.cpu().long()
    if amap.kind not in KEYS_ARE_SLOTS or qi is not None or ki is not None:
        return None
    if bp != jets or nq > n or nk > n:
        return None
    return torch.arange(nq).expand(bp, nq), torch.arange(nk).expand(bp, nk)


def scatter_to_particles(amap: AttentionMap, query_mask: torch.Tensor, key_mask: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor | None:
    """Effective (B, H, N, N) particle x particle map of a map whose queries and keys are particles.

    Rows of padded particles and columns of padded or unnamed keys are zero; a particle that is a query
    in several groups gets the mean of its rows. None when the map's queries or keys are not particles.
    """
    b, n = mask.shape
    index = _particle_indices(amap, b, n)
    if index is None:
        return None
    qi, ki = index
    w = amap.weights.cpu().float()
    bp, h, nq, nk = w.shape
    groups = bp // b
    jet = (torch.arange(bp) // groups)[:, None, None, None]
    head = torch.arange(h)[None, :, None, None]
    valid = (query_mask & (qi >= 0))[:, None, :, None] & (key_mask & (ki >= 0))[:, None, None, :]
    valid = valid.expand(bp, h, nq, nk)
    lin = ((jet * h + head) * n + qi[:, None, :, None].clamp(min=0)) * n + ki[:, None, None, :].clamp(min=0)
    out = torch.zeros(b * h * n * n).index_add_(0, lin[valid], w[valid])
    rows = (query_mask & (qi >= 0))[:, None, :].expand(bp, h, nq)
    row_lin = (jet[..., 0] * h + head[..., 0]) * n + qi[:, None, :].clamp(min=0)
    count = torch.zeros(b * h * n).index_add_(0, row_lin[rows], torch.ones(int(rows.sum())))
    out = out.view(b, h, n, n) / count.view(b, h, n, 1).clamp(min=1)
    real = mask[:, None, :, None] & mask[:, None, None, :]
    return out * real


def uniform_like(amap: AttentionMap, key_mask: torch.Tensor) -> AttentionMap:
    """``amap`` with every row replaced by uniform weights over its real keys (the baseline)."""
    k = key_mask.float()
    u = (k / k.sum(-1, keepdim=True).clamp(min=1))[:, None, None, :].expand_as(amap.weights)
    return replace(amap, weights=u.contiguous())


def _owner_effective(model: nn.Module, name: str, amap: AttentionMap, mask: torch.Tensor) -> torch.Tensor | None:
    """Effective map from ``effective_particle_weights`` of the emitting module's or its parent's module."""
    owners = [name, name.rpartition(".")[0]] if "." in name else [name]
    n = mask.shape[1]
    for owner in owners:
        module = model.get_submodule(owner)
        fn = getattr(sys.modules.get(type(module).__module__), "effective_particle_weights", None)
        if fn is None:
            continue
        nq = amap.weights.shape[2]
        if amap.weights.shape[0] != mask.shape[0] or nq > n:
            return None
        eff = fn(amap.weights, module, mask[:, :nq].to(amap.weights.device)).detach().float().cpu()
        out = torch.zeros(eff.shape[0], eff.shape[1], n, n)
        out[:, :, : eff.shape[2], : eff.shape[3]] = eff
        return out * (mask[:, None, :, None] & mask[:, None, None, :])
    return None


def is_stochastic(particle: torch.Tensor, mask: torch.Tensor, atol: float = 1e-4) -> bool:
    """Whether every real row of a (B, H, N, N) map is non-negative and sums to 1 over real particles."""
    if (particle < -atol).any():
        return False
    sums = particle.sum(-1)[mask[:, None, :].expand(-1, particle.shape[1], -1)]
    return bool(((sums - 1).abs() <= atol).all())


def received_from_map(particle: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, H, N) mean attention each particle receives from the real query particles of its jet."""
    queries = mask.sum(-1).clamp(min=1).to(particle.dtype)[:, None, None]
    return particle.sum(2) / queries * mask[:, None, :]


def received_from_class_token(amap: AttentionMap, key_mask: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """(B, H, N) class-token weight on each particle (mean over class-token queries), or None."""
    w = amap.weights.cpu().float()
    bp, h, _, nk = w.shape
    b, n = mask.shape
    if bp != b:
        return None
    w = (w * key_mask[:, None, None, :]).mean(2)  # (B, H, Nk)
    out = torch.zeros(b, h, n)
    if amap.key_index is not None and amap.key_index.ndim == 2:
        ki = amap.key_index.cpu().long()
        ok = (ki >= 0) & (ki < n)
        for hh in range(h):
            out[:, hh].scatter_add_(1, ki.clamp(0, n - 1), w[:, hh] * ok)
    elif nk - 1 <= n:  # keys are [class token, particle slots...]
        out[:, :, : nk - 1] = w[:, :, 1:]
    else:
        return None
    return out * mask[:, None, :]


def resolve(model: nn.Module, name: str, calls: list[AttentionMap], mask: torch.Tensor) -> ModuleAttention:
    """One module's calls resolved against the batch's particle ``mask`` (see the module docstring)."""
    mask = mask.cpu()
    masks = [resolve_masks(c, mask) for c in calls]
    out = ModuleAttention(name=name, kind=calls[0].kind, calls=calls, query_masks=[m[0] for m in masks],
                          key_masks=[m[1] for m in masks])
    if out.kind == "class_token":
        got = [received_from_class_token(c, k, mask) for c, (_, k) in zip(calls, masks)]
        if all(g is not None for g in got):
            out.received = torch.stack(got).mean(0)
        return out
    maps = [scatter_to_particles(c, q, k, mask) for c, (q, k) in zip(calls, masks)]
    if any(m is None for m in maps):
        maps = [_owner_effective(model, name, c, mask) for c in calls]
    if not maps or any(m is None for m in maps):
        return out
    out.particle = torch.stack(maps).mean(0)
    out.stochastic = is_stochastic(out.particle, mask)
    if out.stochastic:
        uniform = [scatter_to_particles(uniform_like(c, k), q, k, mask) for c, (q, k) in zip(calls, masks)]
        if all(u is not None for u in uniform):
            out.uniform = torch.stack(uniform).mean(0)
        out.received = received_from_map(out.particle, mask)
    return out


def collect_attention(model: nn.Module, batch: JetBatch) -> tuple[torch.Tensor, dict[str, ModuleAttention]]:
    """Run ``model`` once on ``batch`` with the probes on: logits (B, C) and ``{module name: ModuleAttention}``."""
    with torch.no_grad(), capture_attention(model) as maps:
        logits = model(batch)
    mask = batch.mask.cpu()
    resolved = {name: resolve(model, name, calls, mask) for name, calls in maps.items() if calls}
    return logits.detach().float().cpu(), resolved
