"""Faithfulness: does removing the particles an explanation ranks first hurt the model more than chance?

For k = 1, 2, 4, 8, each jet loses its k highest-ranked real particles (by |attribution|, by attention
received, or k random ones, averaged over a few draws) and the model's accuracy is measured again. At least
one particle is always kept (a jet with n <= k particles loses n - 1). Removed particles leave no hole: the
remaining ones move up in their original order and the freed slots become padding, as if the jet had been
recorded without them (features of the remaining particles are not recomputed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from tagformer.data.batch import JetBatch

KS = (1, 2, 4, 8)


def remove_particles(batch: JetBatch, drop: torch.Tensor) -> JetBatch:
    """``batch`` without the (B, N) ``drop`` particles: survivors compacted to the front, zero padding after."""
    keep = batch.mask & ~drop
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    mask = keep.gather(1, order)

    def move(t: torch.Tensor) -> torch.Tensor:
        moved = t.gather(1, order[..., None].expand(-1, -1, t.shape[-1]))
        return moved * mask[..., None].to(moved.dtype)

    return batch.replace(features=move(batch.features), p4=move(batch.p4), mask=mask)


def top_k(scores: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N) True on each jet's ``min(k, n - 1)`` highest-scoring real particles."""
    n_real = mask.sum(1)
    take = torch.minimum(torch.full_like(n_real, k), (n_real - 1).clamp(min=0))
    ranked = scores.double().masked_fill(~mask, -torch.inf).argsort(dim=1, descending=True, stable=True)
    chosen = torch.arange(mask.shape[1])[None, :] < take[:, None]
    drop = torch.zeros_like(mask)
    return drop.scatter(1, ranked, chosen)


def random_k(mask: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """(B, N) True on ``min(k, n - 1)`` random real particles of each jet."""
    return top_k(torch.rand(mask.shape, generator=generator), mask, k)


def accuracy(model: nn.Module, batch: JetBatch, batch_size: int = 256) -> float:
    """Share of jets whose predicted class is their label."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    right = 0
    with torch.no_grad():
        for start in range(0, len(batch), batch_size):
            part = batch.select(slice(start, start + batch_size))
            pred = model(part.to(device)).argmax(-1).cpu()
            right += int((pred == part.labels).sum())
    return right / max(len(batch), 1)


def faithfulness(model: nn.Module, batch: JetBatch, rankings: dict[str, torch.Tensor | None],
                 ks: Sequence[int] = KS, repeats: int = 3, seed: int = 0, batch_size: int = 256,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Accuracy after removing the top-k particles of each ranking and k random ones.

    Parameters
    ----------
    rankings : name -> (B, N) score per particle (higher = removed first); None entries are skipped.
    repeats : random draws averaged for the random curve.

    Returns
    -------
    ``{"ks", "accuracy" (nothing removed), "chance" (largest class share), "curves": {name: [accuracy per
    k]}, "random_std": [...], "capped": [share of jets with at most k particles, per k]}``.
    """
    model = model.eval()
    labels = batch.labels
    counts = np.bincount(labels.numpy()) if labels is not None and len(labels) else np.zeros(1)
    n_real = batch.mask.sum(1)
    out: dict = {"ks": list(ks), "accuracy": accuracy(model, batch, batch_size),
                 "chance": float(counts.max() / max(counts.sum(), 1)), "curves": {},
                 "capped": [float((n_real <= k).float().mean()) for k in ks]}
    for name, scores in rankings.items():
        if scores is None:
            continue
        out["curves"][name] = [accuracy(model, remove_particles(batch, top_k(scores, batch.mask, k)), batch_size)
                               for k in ks]
        if progress is not None:
            progress(f"removed the top-k particles by {name}")
    gen = torch.Generator().manual_seed(seed)
    draws = np.array([[accuracy(model, remove_particles(batch, random_k(batch.mask, k, gen)), batch_size)
                       for k in ks] for _ in range(repeats)])
    out["curves"]["random"] = [float(v) for v in draws.mean(0)]
    out["random_std"] = [float(v) for v in draws.std(0)]
    if progress is not None:
        progress(f"removed k random particles ({repeats} draws)")
    return out
