"""Everything the report needs from the attention maps, gathered batch by batch (the maps themselves are
too large to keep for many jets): sparsity sums, class-averaged maps, example jets, per-particle scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from tagformer.eval.explain.attention import ModuleAttention
from tagformer.eval.explain.sparsity import SparsityTotals


def sort_map(particle: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """(B, H, N, N) map with rows and columns permuted to the (B, N) slot ``order`` (e.g. by decreasing pT)."""
    b, h, n, _ = particle.shape
    rows = particle.gather(2, order[:, None, :, None].expand(b, h, n, n))
    return rows.gather(3, order[:, None, None, :].expand(b, h, n, n))


@dataclass
class ClassMeans:
    """Per-class sums of (H, Q, K) maps and of how many jets had each (query, key) pair real."""

    sums: torch.Tensor
    counts: torch.Tensor

    def add(self, maps: torch.Tensor, real: torch.Tensor, labels: torch.Tensor) -> None:
        """``maps`` (B, H, Q, K), ``real`` (B, Q, K) pairs present, ``labels`` (B,)."""
        self.sums.index_add_(0, labels, maps.double() * real[:, None])
        self.counts.index_add_(0, labels, real.double())

    def mean(self) -> np.ndarray:
        """(C, H, Q, K) mean over the jets where the pair exists (NaN where none had it)."""
        counts = self.counts[:, None]
        return torch.where(counts > 0, self.sums / counts.clamp(min=1), torch.nan).numpy()


@dataclass
class AttentionSummary:
    """The attention part of the report.

    Attributes
    ----------
    modules : per module name: kind, heads, shape of one call's weights in its own terms, and whether it
        has an effective particle map (and whether that map is a distribution).
    sparsity : :meth:`SparsityTotals.result`.
    particle_means : module -> (C, H, N, N) class-averaged effective maps, particles by decreasing pT.
    own_means : module -> (C, H, Nq, Nk) class-averaged maps in the module's own terms (batch order), for
        modules without an effective particle map that is a distribution, whose maps have one row per jet
        (class tokens excepted: see ``received_means``).
    received_means : module -> (C, H, N) class-averaged attention each particle receives, by pT rank, for
        modules that give it without a particle map (class tokens).
    examples : module -> jet index -> {"particle": (H, N, N) or None (batch order), "own": (H, Nq, Nk) or
        None, "received": (H, N) or None}.
    scores : (jets, N) attention each particle receives, mean over modules and heads, or None.
    """

    modules: dict[str, dict] = field(default_factory=dict)
    sparsity: dict[str, dict] = field(default_factory=dict)
    particle_means: dict[str, np.ndarray] = field(default_factory=dict)
    own_means: dict[str, np.ndarray] = field(default_factory=dict)
    received_means: dict[str, np.ndarray] = field(default_factory=dict)
    examples: dict[str, dict[int, dict]] = field(default_factory=dict)
    scores: np.ndarray | None = None


class AttentionAccumulator:
    """Feed :meth:`add` every batch's :class:`ModuleAttention` s, then call :meth:`summary`.

    Parameters
    ----------
    jets, num_particles, num_classes : sizes of the whole set of jets.
    examples : indices (into the whole set) of the jets whose maps are kept whole.
    """

    def __init__(self, jets: int, num_particles: int, num_classes: int, examples: list[int]) -> None:
        self.jets, self.n, self.classes = jets, num_particles, num_classes
        self.example_set = set(examples)
        self.sparsity = SparsityTotals()
        self.out = AttentionSummary()
        self._particle: dict[str, ClassMeans] = {}
        self._own: dict[str, ClassMeans] = {}
        self._received: dict[str, ClassMeans] = {}
        self._score_sum = np.zeros((jets, num_particles))
        self._score_count = np.zeros(jets)

    def _means(self, store: dict[str, ClassMeans], name: str, shape: tuple[int, ...]) -> ClassMeans:
        if name not in store:
            store[name] = ClassMeans(torch.zeros(self.classes, *shape, dtype=torch.float64),
                                     torch.zeros(self.classes, *shape[1:], dtype=torch.float64))
        return store[name]

    def _describe(self, m: ModuleAttention) -> None:
        if m.name not in self.out.modules:
            self.out.modules[m.name] = {
                "kind": m.kind, "heads": m.num_heads, "calls": len(m.calls),
                "shape": list(m.calls[0].weights.shape[1:]), "particle_map": m.particle is not None,
                "stochastic": bool(m.stochastic), "received": m.received is not None,
            }

    def add(self, start: int, modules: dict[str, ModuleAttention], mask: torch.Tensor, labels: torch.Tensor,
            order: torch.Tensor, subjets: torch.Tensor | None) -> None:
        """One batch: jets ``start .. start + B`` with particle ``mask``, true ``labels``, pT ``order`` (B, N)
        (slots by decreasing pT) and C/A ``subjets`` (B, N) or None."""
        b, n = mask.shape
        real = mask.gather(1, order)
        scores = torch.zeros(b, n, dtype=torch.float64)
        scored = 0
        for name, m in modules.items():
            self._describe(m)
            for call, q, k in zip(m.calls, m.query_masks, m.key_masks):
                self.sparsity.add(name, m.kind, call.weights, q, k)
            own = None
            if m.particle is not None:
                if m.stochastic and m.uniform is not None and subjets is not None:
                    self.sparsity.add_subjets(name, m.particle, m.uniform, subjets, mask)
                self._means(self._particle, name, (m.num_heads, n, n)).add(
                    sort_map(m.particle, order), real[:, :, None] & real[:, None, :], labels)
            elif m.received is not None:  # class tokens: what each particle receives, by pT rank
                ranked = m.received.gather(2, order[:, None, :].expand_as(m.received))
                self._means(self._received, name, (m.num_heads, 1, n)).add(ranked[:, :, None], real[:, None], labels)
            if (m.particle is None and m.received is None) or (m.particle is not None and not m.stochastic):
                own = self._own_terms(m, b)
            if own is not None:
                weights, pairs = own
                self._means(self._own, name, tuple(weights.shape[1:])).add(weights, pairs, labels)
            if m.received is not None:
                scores += m.received.double().mean(1)
                scored += 1
            self._keep_examples(start, b, m, own)
        if scored:
            self._score_sum[start:start + b, :n] += (scores / scored).numpy()
            self._score_count[start:start + b] += 1

    @staticmethod
    def _own_terms(m: ModuleAttention, b: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Mean over calls of the maps in own terms and their real pairs, when every call has one row per jet."""
        shapes = {tuple(c.weights.shape) for c in m.calls}
        if len(shapes) != 1 or next(iter(shapes))[0] != b:
            return None
        weights = torch.stack([c.weights.float().cpu() for c in m.calls]).mean(0)
        pairs = m.query_masks[0][:, :, None] & m.key_masks[0][:, None, :]
        return weights * pairs[:, None], pairs

    def _keep_examples(self, start: int, b: int, m: ModuleAttention,
                       own: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        if m.particle is None and own is None and m.received is None:
            return
        for jet in self.example_set:
            i = jet - start
            if 0 <= i < b:
                self.out.examples.setdefault(m.name, {})[jet] = {
                    "particle": None if m.particle is None else m.particle[i].numpy(),
                    "own": None if own is None else own[0][i].numpy(),
                    "received": None if m.received is None else m.received[i].numpy(),
                }

    def summary(self) -> AttentionSummary:
        out = self.out
        out.sparsity = self.sparsity.result()
        out.particle_means = {k: v.mean() for k, v in self._particle.items()}
        out.own_means = {k: v.mean() for k, v in self._own.items()}
        out.received_means = {k: v.mean()[:, :, 0] for k, v in self._received.items()}
        if self._score_count.any():
            out.scores = self._score_sum / np.maximum(self._score_count, 1)[:, None]
        return out
