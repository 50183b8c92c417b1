"""Quark-gluon jets from energyflow (``QG_jets*.npz``): ``X`` (N, M, 4) = (pt, y, phi, pid), ``y``.

Four-momenta are built from (pT, rapidity y, phi) with the PDG mass of the particle's ``pid``
(pi, K, p, n, K0L/K0S, e, mu, photon); a ``pid`` of 0 (the files without PID) or one not in the table is
taken as massless. PID also gives charge and the 5 JetClass-style flags (``pid`` extra); there are no
impact parameters. Labels: ``y`` = 1 quark, 0 gluon -> classes ("gluon", "quark"). Targets: ``pt`` and
``jet_mass`` of the constituent sum (the files hold particle-level jets); the files store no truth mass.
"""

from __future__ import annotations

import zipfile

import numpy as np

from tagformer.data.formats.base import JetArrays, check_finite, check_nonempty, one_line
from tagformer.data.formats.targets import constituent_targets
from tagformer.errors import DataError

NAME = "quarkgluon"
SUFFIXES = (".npz",)
CLASS_NAMES = ["gluon", "quark"]
#: |pid| -> (mass GeV, |charge|, kind) with kind in {"ch", "nh", "photon", "e", "mu"}
PDG = {
    211: (0.13957, 1, "ch"), 321: (0.493677, 1, "ch"), 2212: (0.938272, 1, "ch"),
    2112: (0.939565, 0, "nh"), 130: (0.497611, 0, "nh"), 310: (0.497611, 0, "nh"),
    22: (0.0, 0, "photon"), 11: (0.000511, 1, "e"), 13: (0.105658, 1, "mu"),
}
PID_NAMES = ["charge", "isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon"]


def _load(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot be opened as an npz file (truncated or corrupt?): {one_line(exc)}.") from None


def sniff(path: str) -> bool:
    return path.endswith(SUFFIXES)


def _get(data, path: str, key: str) -> np.ndarray:
    if key not in data.files:
        raise DataError(f"{path}: missing array '{key}' (has {data.files}).")
    try:
        array = data[key]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read '{key}' (truncated or corrupt file?): {one_line(exc)}.") from None
    if array.dtype.kind not in "fiub":
        raise DataError(f"{path}: '{key}' holds {array.dtype} values, not numbers.")
    return array


def count(path: str) -> int:
    with _load(path) as data:
        return int(_get(data, path, "y").shape[0])


def pid_columns(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mass (GeV) and the 6 columns (charge, 5 PID flags) for integer ``pid`` codes; unknown -> massless."""
    apid = np.abs(pid).astype(np.int64)
    mass = np.zeros(pid.shape, np.float32)
    flags = np.zeros((*pid.shape, 6), np.float32)
    kinds = ["ch", "nh", "photon", "e", "mu"]
    for code, (m, q, kind) in PDG.items():
        sel = apid == code
        mass[sel] = m
        # charge sign: positive pid = positive particle, except electrons/muons (PDG: 11 = e-)
        sign = np.sign(pid[sel]) * (-1 if code in (11, 13) else 1)
        flags[..., 0][sel] = q * sign
        flags[..., 1 + kinds.index(kind)][sel] = 1.0
    return mass, flags


def read(path: str, start: int = 0, stop: int | None = None) -> JetArrays:
    """Read jets ``start:stop`` of one file (the whole ``X`` array is decompressed).

    Raises
    ------
    DataError
        Missing array, wrong shape, NaN/inf, empty file, labels other than 0/1, unreadable file.
    """
    with _load(path) as data:
        x, y = _get(data, path, "X"), _get(data, path, "y")
    if x.ndim != 3 or x.shape[2] != 4:
        raise DataError(f"{path}: 'X' has shape {x.shape}, expected (N, M, 4) = (pt, y, phi, pid).")
    if y.shape != (x.shape[0],):
        raise DataError(f"{path}: 'y' has shape {y.shape}, expected ({x.shape[0]},).")
    check_nonempty(int(x.shape[0]), path)
    x, y = x[start:stop], y[start:stop]
    check_finite(x, path, "'X'")
    check_finite(y.astype(np.float64), path, "'y'")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path}: 'y' must be 0 (gluon) or 1 (quark), found {np.unique(y)[:5].tolist()}.")
    pt, rap, phi, pid = (x[..., i] for i in range(4))
    mask = pt > 0
    mass, flags = pid_columns(np.rint(pid).astype(np.int64))
    mt = np.sqrt(pt.astype(np.float64) ** 2 + mass**2)
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap), mt * np.cosh(rap)], axis=-1)
    p4 = np.where(mask[..., None], p4, 0.0).astype(np.float32)
    flags[~mask] = 0.0
    return JetArrays(p4=p4, mask=mask, labels=y.astype(np.int64), class_names=list(CLASS_NAMES),
                     format=NAME, extras={"pid": flags}, extra_names={"pid": list(PID_NAMES)},
                     sources=[path], targets=constituent_targets(p4, mask))
