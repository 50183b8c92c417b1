"""``describe(path)``: counts per class, particle multiplicity and feature ranges of any supported dataset.

Reads file by file in chunks, so it works on JetClass-size data in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tagformer import kinematics as kin
from tagformer.data.formats import detect_format, get_reader, iter_chunks, resolve_files


@dataclass
class Range:
    """Running min / max / mean of one quantity over real particles (or jets)."""

    min: float = float("inf")
    max: float = float("-inf")
    total: float = 0.0
    count: int = 0

    def update(self, values: np.ndarray) -> None:
        if values.size:
            self.min = min(self.min, float(values.min()))
            self.max = max(self.max, float(values.max()))
            self.total += float(values.astype(np.float64).sum())
            self.count += int(values.size)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")


@dataclass
class Description:
    """Summary of a dataset (``as_dict()`` for JSON, ``str()`` for the terminal)."""

    path: str
    format: str
    files: list[str]
    jets: int
    class_counts: dict[str, int]
    multiplicity: dict[str, float]
    particle_ranges: dict[str, Range] = field(default_factory=dict)
    jet_ranges: dict[str, Range] = field(default_factory=dict)

    def as_dict(self) -> dict:
        def rng(d):
            return {k: {"min": v.min, "max": v.max, "mean": v.mean} for k, v in d.items()}

        return {"path": self.path, "format": self.format, "files": self.files, "jets": self.jets,
                "class_counts": self.class_counts, "multiplicity": self.multiplicity,
                "particle_ranges": rng(self.particle_ranges), "jet_ranges": rng(self.jet_ranges)}

    def __str__(self) -> str:
        lines = [f"{self.path}: {self.format}, {len(self.files)} file(s), {self.jets} jets"]
        lines.append("classes: " + ", ".join(f"{k} {v}" for k, v in self.class_counts.items()))
        m = self.multiplicity
        lines.append(f"particles per jet: mean {m['mean']:.1f}, median {m['median']:.0f}, "
                     f"min {m['min']:.0f}, max {m['max']:.0f} (stored slots {m['slots']:.0f})")
        for title, ranges in (("particle", self.particle_ranges), ("jet", self.jet_ranges)):
            for k, v in ranges.items():
                lines.append(f"  {title} {k:<18} min {v.min:>12.4g}  max {v.max:>12.4g}  mean {v.mean:>12.4g}")
        return "\n".join(lines)


def describe(path: str, format: str | None = None, max_jets: int | None = None,
             chunk_size: int = 50_000) -> Description:
    """Summarise the dataset at ``path`` (file, directory or glob).

    Raises
    ------
    DataError
        For any unreadable or malformed file (see the readers).
    """
    files = resolve_files(path)
    fmt = format or detect_format(files)
    reader = get_reader(fmt)
    counts = np.zeros(len(reader.CLASS_NAMES), np.int64)
    mult_hist = np.zeros(1, np.int64)
    prange: dict[str, Range] = {}
    jrange: dict[str, Range] = {}
    slots = jets = 0
    for f in files:
        for chunk in iter_chunks(f, fmt, chunk_size):
            if max_jets is not None:
                chunk = chunk.select(slice(0, max_jets - jets))
            jets += len(chunk)
            slots = max(slots, chunk.num_particles)
            counts += np.bincount(chunk.labels, minlength=len(counts))
            mult = np.bincount(chunk.mask.sum(axis=1))
            if len(mult) > len(mult_hist):
                mult_hist = np.pad(mult_hist, (0, len(mult) - len(mult_hist)))
            mult_hist[: len(mult)] += mult
            real = chunk.p4[chunk.mask]
            for name, values in (("pt", kin.pt(real)), ("eta", kin.eta(real)), ("phi", kin.phi(real)),
                                 ("energy", real[:, 3])):
                prange.setdefault(name, Range()).update(values)
            for key, arr in chunk.extras.items():
                for i, name in enumerate(chunk.extra_names[key]):
                    if name in ("pt", "eta", "phi", "e"):  # already summarised from p4
                        continue
                    prange.setdefault(name, Range()).update(arr[..., i][chunk.mask])
            if chunk.jet is not None:
                for i, name in enumerate(chunk.jet_names):
                    jrange.setdefault(name, Range()).update(chunk.jet[:, i])
            if max_jets is not None and jets >= max_jets:
                break
        if max_jets is not None and jets >= max_jets:
            break
    n = np.arange(len(mult_hist))
    cdf = np.cumsum(mult_hist)
    multiplicity = {"mean": float((n * mult_hist).sum() / max(jets, 1)),
                    "median": float(n[np.searchsorted(cdf, (jets + 1) / 2)]) if jets else 0.0,
                    "min": float(n[mult_hist > 0].min()) if jets else 0.0,
                    "max": float(n[mult_hist > 0].max()) if jets else 0.0, "slots": float(slots)}
    return Description(path=path, format=fmt, files=files, jets=jets,
                       class_counts={c: int(k) for c, k in zip(reader.CLASS_NAMES, counts)},
                       multiplicity=multiplicity, particle_ranges=prange, jet_ranges=jrange)


def is_generated(path: str) -> bool:
    """True for a single file written by ``tagformer generate`` (hls4ml layout with a ``metadata`` group)."""
    import os

    import h5py

    if not os.path.isfile(path):
        return False
    try:
        with h5py.File(path, "r") as f:
            return "jetConstituentList" in f and "metadata" in f
    except OSError:
        return False
