"""Watching for representation collapse: per-dimension spread and effective rank of jet embeddings."""

from __future__ import annotations

import torch

#: Below this mean per-dimension standard deviation (relative to the embeddings' mean absolute value) a run
#: is reported as collapsed.
COLLAPSE_STD = 1e-3


def embedding_stats(embeddings: torch.Tensor) -> dict[str, float]:
    """``emb_std``: mean over dimensions of the per-dimension std of (M, J) embeddings; ``emb_rank``: the
    effective rank ``exp(entropy of the normalised singular values)`` of the centred embeddings (1 for a
    collapsed set, up to min(M, J))."""
    x = embeddings.detach().double()
    if x.shape[0] < 2:
        return {"emb_std": float("nan"), "emb_rank": float("nan")}
    std = x.std(dim=0).mean()
    s = torch.linalg.svdvals(x - x.mean(dim=0, keepdim=True))
    p = s / s.sum().clamp_min(1e-12)
    entropy = -(p * p.clamp_min(1e-12).log()).sum()
    return {"emb_std": float(std), "emb_rank": float(entropy.exp())}


def is_collapsed(stats: dict[str, float], scale: float) -> bool:
    """The embeddings' spread is negligible against their ``scale`` (mean absolute value), or rank ~1."""
    std, rank = stats.get("emb_std", float("nan")), stats.get("emb_rank", float("nan"))
    return bool(std == std and (std < COLLAPSE_STD * max(scale, 1.0) or rank < 1.05))
