"""Named per-jet regression targets: the default ``mass``, selection by name and the NaN policy.

Readers put every per-jet target their format has into ``JetArrays.targets`` (``{name: (n,) float32}``);
targets are never model inputs. A run asks for some of them by name (:func:`select_targets`); jets whose
requested target is NaN are dropped and counted (:func:`drop_nan_targets`), and a split left with no jet is
an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tagformer.errors import DataError

if TYPE_CHECKING:
    from tagformer.data.formats.base import JetArrays

#: Classes whose default ``mass`` target is the generated parent (resonance) mass; every other class uses
#: the particle-level soft-drop mass.
RESONANCE_CLASSES = frozenset({"w", "z", "t"})


def default_mass(parent_mass: np.ndarray, gen_sdmass: np.ndarray, labels: np.ndarray,
                 class_names: Sequence[str]) -> np.ndarray:
    """The reference mass-regression target: the parent's generated mass for W, Z and top jets, the
    particle-level soft-drop mass for the other classes (q, g), decided by class name."""
    resonant = np.array([c.lower() in RESONANCE_CLASSES for c in class_names], bool)
    return np.where(resonant[labels], parent_mass, gen_sdmass).astype(np.float32)


def _available(arrays: JetArrays) -> str:
    return ", ".join(sorted(arrays.targets)) or "none"


def select_targets(arrays: JetArrays, names: Sequence[str], source: str | None = None) -> dict[str, np.ndarray]:
    """``{name: (n,) float32}`` of the requested targets (no copy where the reader's arrays are float32).

    Raises
    ------
    DataError
        If a name is not a target of the data (listing the available ones), or the data have no target.
    """
    where = source or (arrays.sources[0] if arrays.sources else arrays.format)
    missing = [n for n in names if n not in arrays.targets]
    if missing and not arrays.targets:
        raise DataError(f"{where}: the {arrays.format} data have no per-jet targets, so target "
                        f"{', '.join(map(repr, missing))} cannot be read (a regression task needs a file with "
                        "targets, e.g. one written by a current `tagformer generate`).")
    if missing:
        raise DataError(f"{where}: no target {', '.join(map(repr, missing))}; available targets: "
                        f"{_available(arrays)}.")
    return {n: np.asarray(arrays.targets[n], np.float32) for n in names}


def nan_target_rows(arrays: JetArrays, names: Sequence[str]) -> np.ndarray:
    """(n,) bool: True for jets where any requested target is NaN or infinite."""
    bad = np.zeros(len(arrays), bool)
    for values in select_targets(arrays, names).values():
        bad |= ~np.isfinite(values)
    return bad


def drop_nan_targets(arrays: JetArrays, names: Sequence[str]) -> tuple[JetArrays, int]:
    """The jets whose requested targets are all finite, and how many were dropped.

    NaN marks a target that does not exist for a jet (``parent_mass`` of a q or g jet, a particle-level jet
    that could not be matched); such jets cannot be trained or scored on, so they leave the split.
    """
    if not names:
        return arrays, 0
    bad = nan_target_rows(arrays, names)
    n_bad = int(bad.sum())
    return (arrays if n_bad == 0 else arrays.select(np.flatnonzero(~bad))), n_bad


def all_dropped_error(names: Sequence[str], dropped: int, where: str) -> DataError:
    """The error for a split none of whose ``dropped`` jets has a finite value of every target in ``names``."""
    return DataError(f"{where}: all {dropped} jet(s) have a NaN target {', '.join(map(repr, names))} (NaN marks a "
                     "target the jet does not have, e.g. parent_mass of q and g jets); choose a target these jets "
                     "have, or other data.")


def constituent_targets(p4: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """``pt`` and ``jet_mass`` of the jet summed from its constituents (formats without stored jet columns)."""
    from tagformer import kinematics as kin

    jet = np.where(mask[..., None], p4, 0.0).sum(axis=1, dtype=np.float64)
    return {"pt": kin.pt(jet).astype(np.float32), "jet_mass": kin.mass(jet).astype(np.float32)}


def four_vector_targets(prefix: str, p4: np.ndarray) -> dict[str, np.ndarray]:
    """``{prefix}pt`` and ``{prefix}mass`` of (n, 4) four-vectors; NaN where the four-vector is all zero
    (an object the jet does not have)."""
    from tagformer import kinematics as kin

    p4 = p4.astype(np.float64)
    absent = ~(p4 != 0).any(axis=1)
    return {f"{prefix}pt": np.where(absent, np.nan, kin.pt(p4)).astype(np.float32),
            f"{prefix}mass": np.where(absent, np.nan, kin.mass(p4)).astype(np.float32)}
