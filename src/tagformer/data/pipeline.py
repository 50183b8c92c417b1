"""From reader arrays to model inputs: truncation to N particles, ordering and feature computation.

Truncation keeps the N highest-pT particles of each jet (the jet axis uses all of them); the ordering is
then applied to the kept particles. What truncation drops is counted in :class:`TruncationStats`.

Requested per-jet targets (``prepare(..., targets=names)``) go to ``Prepared.targets`` as (n,) float32; jets
whose requested target is NaN are dropped first and counted (``jets_dropped_nan_target``); a split every
jet of which is dropped is an error (:func:`concat_prepared`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.features import check_available, compute_features, relative_coordinates, used_extras
from tagformer.data.formats.base import JetArrays
from tagformer.data.formats.targets import all_dropped_error, drop_nan_targets, select_targets
from tagformer.data.orderings import check_ordering, gather, order_indices


@dataclass
class TruncationStats:
    """What truncation to N particles dropped, summed over the jets seen."""

    jets: int = 0
    jets_truncated: int = 0
    particles: int = 0
    particles_dropped: int = 0
    pt: float = 0.0
    pt_dropped: float = 0.0
    jets_dropped_nan_target: int = 0

    @property
    def particle_fraction_dropped(self) -> float:
        return self.particles_dropped / self.particles if self.particles else 0.0

    @property
    def pt_fraction_dropped(self) -> float:
        return self.pt_dropped / self.pt if self.pt else 0.0

    def add(self, other: TruncationStats) -> TruncationStats:
        return TruncationStats(*(getattr(self, k) + getattr(other, k) for k in
                                 ("jets", "jets_truncated", "particles", "particles_dropped", "pt",
                                  "pt_dropped", "jets_dropped_nan_target")))

    def as_dict(self) -> dict[str, float]:
        return {"jets": self.jets, "jets_truncated": self.jets_truncated, "particles": self.particles,
                "particles_dropped": self.particles_dropped,
                "particle_fraction_dropped": self.particle_fraction_dropped,
                "pt_fraction_dropped": self.pt_fraction_dropped,
                "jets_dropped_nan_target": self.jets_dropped_nan_target}


@dataclass
class Prepared:
    """Model-ready numpy arrays: raw features (the model standardises them), padded slots 0.

    ``targets`` holds further named per-jet targets (``{name: (n, ...)}``) when the data provide them.
    """

    features: np.ndarray  # (n, N, F) float32
    p4: np.ndarray  # (n, N, 4) float32
    mask: np.ndarray  # (n, N) bool
    labels: np.ndarray  # (n,) int64
    jet: np.ndarray | None
    stats: TruncationStats
    targets: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, index: np.ndarray | slice) -> Prepared:
        """The jets at ``index``; truncation counts stay with the source (the result's are empty)."""
        return Prepared(features=self.features[index], p4=self.p4[index], mask=self.mask[index],
                        labels=self.labels[index], jet=None if self.jet is None else self.jet[index],
                        stats=TruncationStats(),
                        targets=None if self.targets is None else {k: v[index] for k, v in self.targets.items()})


def _pad_to(a: np.ndarray, n: int) -> np.ndarray:
    if a.shape[1] >= n:
        return a
    pad = [(0, 0)] * a.ndim
    pad[1] = (0, n - a.shape[1])
    return np.pad(a, pad)


def prepare(arrays: JetArrays, feature_set: str, num_particles: int, ordering: str,
            rng: np.random.Generator | None = None, targets: Sequence[str] = ()) -> Prepared:
    """Truncate/pad to ``num_particles``, order, and compute ``feature_set``.

    Parameters
    ----------
    targets
        Names of per-jet targets to carry (``Prepared.targets``); jets with a NaN among them are dropped
        and counted in ``stats.jets_dropped_nan_target``. Empty: ``Prepared.targets`` is None.

    Raises
    ------
    DataError
        If the dataset cannot provide ``feature_set`` or a target, or the ordering is unknown.
    """
    source = arrays.sources[0] if arrays.sources else arrays.format
    check_available(feature_set, arrays.extras, arrays.format, source)
    check_ordering(ordering)
    names = list(dict.fromkeys(targets))
    arrays, n_nan = drop_nan_targets(arrays, names)
    chosen = select_targets(arrays, names, source) if names else None
    mask = arrays.mask
    p4 = np.where(mask[..., None], arrays.p4, 0.0).astype(np.float32)
    jet_p4 = p4.sum(axis=1, dtype=np.float64)
    pt = kin.pt(p4)
    # keep the N highest-pT particles
    keep = np.argsort(np.where(mask, -pt, np.inf), axis=1, kind="stable")[:, :num_particles]
    keep = np.ascontiguousarray(keep)
    kept_mask = gather(mask, keep)
    kept_pt = np.where(kept_mask, gather(pt, keep), 0.0)
    n_real = mask.sum(axis=1)
    stats = TruncationStats(
        jets=len(arrays), jets_truncated=int((n_real > num_particles).sum()),
        particles=int(n_real.sum()), particles_dropped=int(n_real.sum() - kept_mask.sum()),
        pt=float(np.where(mask, pt, 0.0).sum()), pt_dropped=float(np.where(mask, pt, 0.0).sum() - kept_pt.sum()),
        jets_dropped_nan_target=n_nan)
    p4, mask = gather(p4, keep), kept_mask
    extras = {k: gather(arrays.extras[k], keep) for k in used_extras(feature_set, arrays.extras)}
    if ordering != "pt":
        deta, dphi = relative_coordinates(p4, jet_p4)
        idx = order_indices(ordering, kin.pt(p4), deta, dphi, mask, rng)
        p4, mask = gather(p4, idx), gather(mask, idx)
        extras = {k: gather(v, idx) for k, v in extras.items()}
    features = compute_features(feature_set, p4, mask, jet_p4, extras)
    p4 = np.where(mask[..., None], p4, 0.0).astype(np.float32)
    return Prepared(features=_pad_to(features, num_particles), p4=_pad_to(p4, num_particles),
                    mask=_pad_to(mask, num_particles), labels=arrays.labels, jet=arrays.jet, stats=stats,
                    targets=chosen)


def report_nan_drops(split: str, stats: TruncationStats) -> str | None:
    """Log (warning) and return the line saying how many jets of ``split`` NaN targets dropped; None if none."""
    if not stats.jets_dropped_nan_target:
        return None
    total = stats.jets + stats.jets_dropped_nan_target
    line = (f"{split}: dropped {stats.jets_dropped_nan_target} of {total} jets whose requested target is NaN "
            f"(kept {stats.jets})")
    logging.getLogger(__name__).warning(line)
    return line


def concat_prepared(parts: list[Prepared]) -> Prepared:
    """Concatenate prepared chunks (all padded to the same N).

    Raises
    ------
    DataError
        If NaN targets dropped every jet of the chunks (the whole split when called on a split's chunks).
    """
    dropped = sum(p.stats.jets_dropped_nan_target for p in parts)
    if dropped and not sum(map(len, parts)):
        raise all_dropped_error(sorted(parts[0].targets or {}), dropped, "the data")
    if len(parts) == 1:
        return parts[0]
    stats = TruncationStats()
    for p in parts:
        stats = stats.add(p.stats)
    jets = [p.jet for p in parts]
    targets = [p.targets for p in parts]
    return Prepared(features=np.concatenate([p.features for p in parts]),
                    p4=np.concatenate([p.p4 for p in parts]), mask=np.concatenate([p.mask for p in parts]),
                    labels=np.concatenate([p.labels for p in parts]),
                    jet=None if any(j is None for j in jets) else np.concatenate(jets), stats=stats,
                    targets=None if any(t is None for t in targets)
                    else {k: np.concatenate([t[k] for t in targets]) for k in targets[0]})
