"""The common numpy representation every reader returns, and the checks all readers share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tagformer.errors import DataError


@dataclass
class JetArrays:
    """Jets as read from disk, before features, ordering, truncation and normalisation.

    Attributes
    ----------
    p4 : (N, P, 4) float32
        Constituent four-momenta (px, py, pz, E) in GeV, zero in padded slots.
    mask : (N, P) bool
        True = real particle.
    labels : (N,) int64
        Class index into ``class_names``.
    class_names : list of str
        Class names in label order.
    extras : dict of str -> (N, P, K) float32
        Optional per-particle columns (e.g. ``pid`` (charge + 5 PID flags), ``ip`` (d0, d0err, dz,
        dzerr), ``hls4ml16`` (the 16 stored hls4ml features)); ``extra_names`` names their columns.
    jet : (N, J) float32, optional
        Jet-level features named by ``jet_names`` (never labels or truth).
    targets : dict of str -> (N,) float32
        Named per-jet regression targets the format provides (see ``targets.py``; NaN where a jet has
        none). Never model inputs.
    sources : list of str
        The files the jets came from.
    format : str
        Reader name.
    """

    p4: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    format: str
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    extra_names: dict[str, list[str]] = field(default_factory=dict)
    jet: np.ndarray | None = None
    jet_names: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.p4.shape[0])

    @property
    def num_particles(self) -> int:
        return int(self.p4.shape[1])

    def select(self, index: np.ndarray | slice) -> JetArrays:
        """Return the jets at ``index`` (slice, boolean mask or integer array)."""
        return JetArrays(
            p4=self.p4[index], mask=self.mask[index], labels=self.labels[index],
            class_names=self.class_names, format=self.format,
            extras={k: v[index] for k, v in self.extras.items()}, extra_names=self.extra_names,
            jet=None if self.jet is None else self.jet[index], jet_names=self.jet_names,
            sources=self.sources, targets={k: v[index] for k, v in self.targets.items()},
        )


def _pad_particles(a: np.ndarray, p: int) -> np.ndarray:
    if a.shape[1] == p:
        return a
    pad = [(0, 0)] * a.ndim
    pad[1] = (0, p - a.shape[1])
    return np.pad(a, pad)


def concat(parts: list[JetArrays]) -> JetArrays:
    """Concatenate jets from several files (padding particle axes to the largest multiplicity).

    Raises
    ------
    DataError
        If the files disagree on format, classes or available columns.
    """
    if not parts:
        raise ValueError("concat needs at least one part")
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    for part in parts[1:]:
        if part.format != first.format or part.class_names != first.class_names:
            raise DataError(f"{part.sources[0]} does not match {first.sources[0]}: "
                            f"{part.format} {part.class_names} vs {first.format} {first.class_names}.")
        if sorted(part.extras) != sorted(first.extras) or part.jet_names != first.jet_names:
            raise DataError(f"{part.sources[0]} has different columns from {first.sources[0]}: "
                            f"extras {sorted(part.extras)} vs {sorted(first.extras)}, "
                            f"jet {part.jet_names} vs {first.jet_names}.")
    common = [k for k in first.targets if all(k in x.targets for x in parts)]
    p = max(x.num_particles for x in parts)
    return JetArrays(
        p4=np.concatenate([_pad_particles(x.p4, p) for x in parts]),
        mask=np.concatenate([_pad_particles(x.mask, p) for x in parts]),
        labels=np.concatenate([x.labels for x in parts]),
        class_names=first.class_names, format=first.format,
        extras={k: np.concatenate([_pad_particles(x.extras[k], p) for x in parts]) for k in first.extras},
        extra_names=first.extra_names,
        jet=None if first.jet is None else np.concatenate([x.jet for x in parts]),
        jet_names=first.jet_names,
        sources=[s for x in parts for s in x.sources],
        targets={k: np.concatenate([x.targets[k] for x in parts]) for k in common},
    )


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (libraries such as uproot put line breaks in theirs), shortened."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_finite(array: np.ndarray, path: str, what: str) -> None:
    """Raise DataError if ``array`` holds NaN or inf (nothing is silently replaced)."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise DataError(f"{path}: {what} contains {bad} NaN or infinite value(s).")


def check_nonempty(n: int, path: str) -> None:
    if n == 0:
        raise DataError(f"{path}: the file contains no jets.")


def labels_from_onehot(onehot: np.ndarray, path: str, names: list[str]) -> np.ndarray:
    """Class indices from one-hot rows; DataError unless every row has exactly one 1 and zeros elsewhere."""
    onehot = np.asarray(onehot)
    check_finite(onehot.astype(np.float64, copy=False), path, "label columns")
    is_binary = (onehot == 0) | (onehot == 1)
    rows_ok = is_binary.all(axis=1) & (onehot.sum(axis=1) == 1)
    if not rows_ok.all():
        first = int(np.flatnonzero(~rows_ok)[0])
        raise DataError(f"{path}: label columns {names} are not one-hot "
                        f"({int((~rows_ok).sum())} bad row(s), first at jet {first}: {onehot[first].tolist()}).")
    return onehot.argmax(axis=1).astype(np.int64)


def mask_from_p4(p4: np.ndarray) -> np.ndarray:
    """Real particles: nonzero pT or nonzero energy."""
    return (np.hypot(p4[..., 0], p4[..., 1]) > 0) | (p4[..., 3] != 0)
