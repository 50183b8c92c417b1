"""Integrated gradients (captum) of the predicted class's logit with respect to every input feature.

The path runs from a baseline jet to the jet with the same particles (``mask`` and four-momenta fixed):
every real particle's features start at the model's input mean (``input_norm.mean``; zero for a model
without one), i.e. at zero after the model's own standardisation, so a particle's attribution measures
what its features add over an average particle. Four-momenta are not attributed: a model that also reads
``p4`` (pair features, coordinates) takes part of its decision from there, outside these attributions.

Completeness (integrated gradients' defining property): the attributions of a jet sum to
``logit(x) - logit(baseline)`` up to the quadrature error, reported as ``delta``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tagformer.data.batch import JetBatch
from tagformer.errors import TagformerError

#: Jets (points on the paths) per forward/backward pass inside captum: bounds the memory of big models.
_PATH_BATCH = 256


@dataclass
class Attributions:
    """Integrated gradients of a set of jets.

    Attributes
    ----------
    features : (B, N, F) attribution of every input feature of every particle (zero on padding).
    target : (B,) class whose logit is explained.
    gap : (B,) ``logit(x) - logit(baseline)`` of that class.
    delta : (B,) completeness error ``sum(features) - gap``.
    """

    features: torch.Tensor
    target: torch.Tensor
    gap: torch.Tensor
    delta: torch.Tensor

    @property
    def per_particle(self) -> torch.Tensor:
        """(B, N) summed over features."""
        return self.features.sum(-1)

    @property
    def per_feature(self) -> torch.Tensor:
        """(B, F) summed over particles."""
        return self.features.sum(1)


def baseline_features(model: nn.Module, batch: JetBatch) -> torch.Tensor:
    """(B, N, F) baseline: the model's input mean on real particles, the batch's own values on padding."""
    norm = getattr(model, "input_norm", None)
    mean = getattr(norm, "mean", None)
    if mean is None or mean.numel() != batch.features.shape[-1]:
        mean = torch.zeros(batch.features.shape[-1])
    mean = mean.detach().to(batch.features)
    return torch.where(batch.mask[..., None], mean.expand_as(batch.features), batch.features)


def _forward(model: nn.Module) -> Callable[..., torch.Tensor]:
    def forward(features: torch.Tensor, p4: torch.Tensor, mask: torch.Tensor, jet: torch.Tensor | None) -> torch.Tensor:
        return model(JetBatch(features=features, p4=p4, mask=mask, jet=jet))

    return forward


def integrated_gradients(model: nn.Module, batch: JetBatch, target: torch.Tensor | None = None,
                         steps: int = 32, batch_size: int = 64,
                         progress: Callable[[int, int], None] | None = None) -> Attributions:
    """Integrated gradients of ``model``'s ``target`` logit (default: the predicted class) on ``batch``.

    Parameters
    ----------
    steps : quadrature points (Gauss-Legendre) along the path.
    batch_size : jets per attribution call (each runs ``batch_size * steps`` jets through the model).
    progress : called as ``progress(done, total)`` after each call.
    """
    try:
        from captum.attr import IntegratedGradients
    except ImportError as exc:
        raise TagformerError("attributions need captum: pip install 'tagformer[explain]'") from exc

    model = model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    ig = IntegratedGradients(_forward(model))
    outs: list[Attributions] = []
    total = len(batch)
    for start in range(0, total, batch_size):
        part = batch.select(slice(start, start + batch_size)).to(device)
        base = baseline_features(model, part)
        with torch.no_grad():
            logits = model(part)
            logits_base = model(part.replace(features=base))
        tgt = logits.argmax(-1) if target is None else target[start:start + batch_size].to(device)
        attr, delta = ig.attribute(part.features, baselines=base, target=tgt,
                                   additional_forward_args=(part.p4, part.mask, part.jet), n_steps=steps,
                                   internal_batch_size=max(len(part), _PATH_BATCH), return_convergence_delta=True)
        gap = logits.gather(1, tgt[:, None])[:, 0] - logits_base.gather(1, tgt[:, None])[:, 0]
        outs.append(Attributions(features=attr.detach().float().cpu(), target=tgt.cpu(), gap=gap.float().cpu(),
                                 delta=delta.detach().float().cpu()))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return Attributions(features=torch.cat([o.features for o in outs]), target=torch.cat([o.target for o in outs]),
                        gap=torch.cat([o.gap for o in outs]), delta=torch.cat([o.delta for o in outs]))


def _shares(values: torch.Tensor) -> torch.Tensor:
    """|values| normalised to sum 1 along the last axis (all-zero rows stay zero)."""
    a = values.abs().double()
    return a / a.sum(-1, keepdim=True).clamp(min=1e-300)


def summarise(attr: Attributions, labels: torch.Tensor, class_names: list[str], feature_names: list[str]) -> dict:
    """Completeness and class-averaged feature importances of ``attr`` (all values plain floats).

    ``completeness``: mean and largest |delta|, the median over jets of |delta| / |gap|, the mean |gap|, and
    ``rel_delta`` = mean |delta| / mean |gap| (robust to jets whose logit barely moves).

    ``feature_share[class][feature]``: mean over the class's jets of the feature's share of the jet's
    |attribution| (summed over particles), plus ``"all"`` over every jet; ``feature_mean`` is the signed mean
    attribution (logit units) per class and feature.
    """
    delta, gap = attr.delta.abs(), attr.gap.abs()
    rel = delta / gap.clamp(min=1e-6)
    shares, signed = _shares(attr.per_feature), attr.per_feature.double()
    out: dict = {
        "completeness": {"mean_abs_delta": float(delta.mean()), "max_abs_delta": float(delta.max()),
                         "median_rel_delta": float(rel.median()), "mean_abs_gap": float(gap.mean()),
                         "rel_delta": float(delta.mean() / gap.mean().clamp(min=1e-12))},
        "feature_names": list(feature_names),
        "feature_share": {"all": [float(v) for v in shares.mean(0)]},
        "feature_mean": {"all": [float(v) for v in signed.mean(0)]},
    }
    for c, name in enumerate(class_names):
        pick = labels == c
        if pick.any():
            out["feature_share"][name] = [float(v) for v in shares[pick].mean(0)]
            out["feature_mean"][name] = [float(v) for v in signed[pick].mean(0)]
    return out


def rank_profile(values: torch.Tensor, rank: torch.Tensor) -> list[float]:
    """Mean over jets of each pT rank's share of the jet's |values| (B, N) (missing ranks count 0)."""
    shares = _shares(values)
    by_rank = torch.zeros_like(shares).scatter_(1, rank, shares)
    return [float(v) for v in by_rank.mean(0)]


def top_k_share(values: torch.Tensor, ks: list[int]) -> list[float]:
    """Mean over jets of the share of |values| (B, N) held by the jet's k largest entries, per k."""
    ordered = _shares(values).sort(-1, descending=True).values.cumsum(-1)
    n = ordered.shape[-1]
    return [float(ordered[:, min(k, n) - 1].mean()) for k in ks]
