"""How concentrated attention is, per module and head, against uniform attention over the same keys.

For every real query row of a map (in the module's own terms, over its real keys):

- ``entropy`` (nats) and ``norm_entropy`` = entropy / ln(number of real keys) (rows with one key left out);
- ``max_weight``: the largest weight;
- ``keys_90``: the fewest keys holding 90 % of the weight;
- ``near_binary``: share of rows whose largest weight exceeds 0.9;
- ``same_subjet`` (particle x particle maps only): weight on keys in the query's own C/A subjet.

Each comes with its ``*_uniform`` value: the same statistic for uniform weights over the row's real keys
(for ``same_subjet``: uniform over the keys the module could attend to, mapped to particles). Values are
means over every real row of every jet.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch

_ROW_STATS = ("entropy", "entropy_uniform", "max_weight", "max_weight_uniform", "keys_90", "keys_90_uniform",
              "near_binary", "near_binary_uniform")


def row_sums(weights: torch.Tensor, query_mask: torch.Tensor, key_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-head sums over real rows of the statistics (and ``rows``, ``rows_multi`` counts).

    Parameters
    ----------
    weights : (B', H, Nq, Nk) attention weights.
    query_mask, key_mask : (B', Nq) / (B', Nk) real queries and keys.
    """
    h = weights.shape[1]
    w = (weights.float() * key_mask[:, None, None, :]).permute(1, 0, 2, 3)[:, query_mask]  # (H, R, Nk)
    nkeys = key_mask[:, None, :].expand(-1, query_mask.shape[1], -1)[query_mask].sum(-1).float()  # (R,)
    keep = nkeys > 0
    w, nkeys = w[:, keep], nkeys[keep]
    if w.shape[1] == 0:
        zero = torch.zeros(h)
        return {**{k: zero for k in _ROW_STATS}, "norm_entropy": zero, "rows": zero, "rows_multi": zero}
    entropy = -(w * torch.log(w.clamp(min=1e-30))).sum(-1)
    log_n = torch.log(nkeys).expand_as(entropy)
    multi = (nkeys > 1).expand_as(entropy)
    top = w.max(-1).values
    cum = w.sort(-1, descending=True).values.cumsum(-1)
    keys90 = torch.minimum((cum < 0.9 - 1e-6).sum(-1).float() + 1, nkeys)
    uniform90 = torch.ceil(0.9 * nkeys - 1e-6).clamp(min=1).expand_as(entropy)
    sums = {
        "entropy": entropy, "entropy_uniform": log_n,
        "norm_entropy": torch.where(multi, entropy / log_n.clamp(min=1e-12), torch.zeros_like(entropy)),
        "max_weight": top, "max_weight_uniform": (1.0 / nkeys).expand_as(entropy),
        "keys_90": keys90, "keys_90_uniform": uniform90,
        "near_binary": (top > 0.9).float(), "near_binary_uniform": (nkeys == 1).float().expand_as(entropy),
    }
    out = {k: v.sum(-1) for k, v in sums.items()}
    out["rows"] = torch.full((h,), float(w.shape[1]))
    out["rows_multi"] = multi.float().sum(-1)
    return out


def same_subjet_sums(particle: torch.Tensor, uniform: torch.Tensor, subjets: torch.Tensor,
                     mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-head sums over real query particles of the weight on their own subjet (actual and uniform).

    Parameters
    ----------
    particle, uniform : (B, H, N, N) effective particle maps of the module and of uniform weights.
    subjets : (B, N) subjet index of each particle (-1 on padding).
    mask : (B, N) real particles.
    """
    same = (subjets[:, :, None] == subjets[:, None, :]) & (subjets[:, :, None] >= 0)
    rows = (mask & (subjets >= 0))[:, None, :].expand(-1, particle.shape[1], -1)
    share = (particle * same[:, None]).sum(-1)
    base = (uniform * same[:, None]).sum(-1)
    return {"same_subjet": (share * rows).sum((0, 2)), "same_subjet_uniform": (base * rows).sum((0, 2)),
            "rows_subjet": rows.float().sum((0, 2))}


class SparsityTotals:
    """Running per-module, per-head sums; :meth:`result` turns them into means."""

    def __init__(self) -> None:
        self._sums: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
        self._kinds: dict[str, str] = {}

    def _add(self, name: str, sums: dict[str, torch.Tensor]) -> None:
        mine = self._sums[name]
        for key, value in sums.items():
            mine[key] = mine[key] + value if key in mine else value.clone()

    def add(self, name: str, kind: str, weights: torch.Tensor, query_mask: torch.Tensor,
            key_mask: torch.Tensor) -> None:
        """Add one call's map."""
        self._kinds[name] = kind
        self._add(name, row_sums(weights, query_mask, key_mask))

    def add_subjets(self, name: str, particle: torch.Tensor, uniform: torch.Tensor, subjets: torch.Tensor,
                    mask: torch.Tensor) -> None:
        """Add one batch's same-subjet shares of a module's effective particle map."""
        self._add(name, same_subjet_sums(particle, uniform, subjets, mask))

    def result(self) -> dict[str, dict]:
        """``{module: {"kind", "heads", "rows", stat: [per head], stat + "_mean": mean over heads}}``."""
        out: dict[str, dict] = {}
        for name, sums in self._sums.items():
            rows = sums["rows"].clamp(min=1)
            entry: dict = {"kind": self._kinds[name], "heads": int(rows.numel()), "rows": int(sums["rows"][0])}
            stats = {k: sums[k] / rows for k in _ROW_STATS}
            stats["norm_entropy"] = sums["norm_entropy"] / sums["rows_multi"].clamp(min=1)
            if "rows_subjet" in sums:
                sub = sums["rows_subjet"].clamp(min=1)
                stats["same_subjet"] = sums["same_subjet"] / sub
                stats["same_subjet_uniform"] = sums["same_subjet_uniform"] / sub
            for key, per_head in stats.items():
                values = [float(v) for v in per_head]
                entry[key] = values
                entry[f"{key}_mean"] = sum(values) / len(values) if values else math.nan
            out[name] = entry
        return out
