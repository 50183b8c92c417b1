"""hls4ml LHC jet files (Zenodo 3602260 and siblings) and tagformer's generated files (same layout).

``jetConstituentList`` (N, P, 16) per-particle features, ``jets`` (N, J) jet features with one-hot labels
(g, q, w, z, t), ``jetFeatureNames`` and ``particleFeatureNames``. Labels are found by name (``j_g`` ...
``j_t``) when ``jetFeatureNames`` lists them, else in the published columns 53-57. Four-momenta come from
the ``px, py, pz, e`` columns; the mask is nonzero pT or E.

Targets (``JetArrays.targets``): ``pt`` and ``sdmass`` (reconstructed ``j_pt`` and ``j_mass_mmdt``, where the
file names those columns); in files of ``tagformer generate`` also the truth columns of ``jetTargets``
(``parent_mass, gen_mass, gen_sdmass, gen_pt``, named by ``jetTargetNames``) and the derived ``mass``
(:func:`~tagformer.data.formats.targets.default_mass`). Files without ``jetTargets`` (the published ones,
older generated ones) read as before, without the truth targets.
"""

from __future__ import annotations

import numpy as np

from tagformer.data.formats.base import (
    JetArrays,
    check_finite,
    check_nonempty,
    labels_from_onehot,
    mask_from_p4,
    one_line,
)
from tagformer.data.formats.targets import default_mass
from tagformer.data.hls4ml_layout import HLS4ML16
from tagformer.errors import DataError

NAME = "hls4ml"
CLASS_NAMES = ["g", "q", "w", "z", "t"]
SUFFIXES = (".h5", ".hdf5")
#: Published column layout of ``jets``: labels g, q, w, z, t in columns 53-57 of 59.
PUBLISHED_LABEL_COLUMNS = (53, 54, 55, 56, 57)
#: Reconstructed jet columns (short names) exposed as targets, and their target names.
RECO_TARGETS = {"pt": "pt", "mass_mmdt": "sdmass"}
TARGETS_KEY, TARGET_NAMES_KEY = "jetTargets", "jetTargetNames"


def _open(path: str):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: cannot be opened as HDF5 (truncated or corrupt file?): {one_line(exc)}.") from None


def sniff(path: str) -> bool:
    """True if ``path`` is an HDF5 file with a ``jetConstituentList`` dataset."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "jetConstituentList" in f
    except OSError:
        return False


def _dataset(f, key: str, path: str, kinds: str):
    """``f[key]`` checked to be a dataset whose dtype kind is one of ``kinds`` (DataError otherwise)."""
    import h5py

    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise DataError(f"{path}: '{key}' is a {type(obj).__name__.lower()}, not a dataset (not an hls4ml jet file?).")
    if obj.dtype.kind not in kinds:
        raise DataError(f"{path}: '{key}' holds {obj.dtype} values, not {'numbers' if 'f' in kinds else 'names'}.")
    return obj


def _names(f, key: str, path: str) -> list[str]:
    if key not in f:
        return []
    names = _dataset(f, key, path, "SUO")[()]
    if np.ndim(names) != 1:
        raise DataError(f"{path}: '{key}' has shape {np.shape(names)}, expected a list of names.")
    return [n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names]


def _short(name: str) -> str:
    """``j1_px`` -> ``px``, ``j_g`` -> ``g`` (published files prefix their names)."""
    for prefix in ("j1_", "j_"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _datasets(f, path: str):
    for key in ("jetConstituentList", "jets"):
        if key not in f:
            raise DataError(f"{path}: missing dataset '{key}' (not an hls4ml jet file?).")
    parts, jets = (_dataset(f, key, path, "fiub") for key in ("jetConstituentList", "jets"))
    if parts.ndim != 3 or parts.shape[2] != 16:
        raise DataError(f"{path}: 'jetConstituentList' has shape {parts.shape}, expected (N, P, 16).")
    if jets.ndim != 2 or jets.shape[0] != parts.shape[0]:
        raise DataError(f"{path}: 'jets' has shape {jets.shape}, expected ({parts.shape[0]}, J).")
    return parts, jets


def count(path: str) -> int:
    """Number of jets in the file."""
    with _open(path) as f:
        return int(_datasets(f, path)[0].shape[0])


def _layout(f, path: str, n_jet_cols: int) -> tuple[list[int], list[int], list[int], list[str]]:
    """Column order of the 16 particle features (hls4ml order), of the labels, of the jet features, and
    the jet features' names."""
    pnames = [_short(n) for n in _names(f, "particleFeatureNames", path)]
    if pnames and pnames[16:] not in ([], ["pdgid"]):
        raise DataError(f"{path}: 'particleFeatureNames' lists {len(pnames)} names for 16 columns.")
    pnames = pnames[:16]
    if pnames:
        missing = [c for c in HLS4ML16 if c not in pnames]
        if missing:
            raise DataError(f"{path}: 'particleFeatureNames' lacks {missing}.")
        part_cols = [pnames.index(c) for c in HLS4ML16]
    else:
        part_cols = list(range(16))
    jnames = [_short(n) for n in _names(f, "jetFeatureNames", path)]
    if jnames and len(jnames) != n_jet_cols:
        raise DataError(f"{path}: 'jetFeatureNames' lists {len(jnames)} names for {n_jet_cols} columns.")
    if jnames and all(c in jnames for c in CLASS_NAMES):
        label_cols = [jnames.index(c) for c in CLASS_NAMES]
    elif n_jet_cols == 59:
        label_cols = list(PUBLISHED_LABEL_COLUMNS)
    else:
        raise DataError(f"{path}: cannot find label columns j_g, j_q, j_w, j_z, j_t in 'jetFeatureNames' "
                        f"and 'jets' has {n_jet_cols} columns, not the published 59.")
    if not jnames:
        jnames = [f"jet{i}" for i in range(n_jet_cols)]
    skip = set(label_cols) | {i for i, n in enumerate(jnames) if n in ("undef", "index")}
    if n_jet_cols == 59 and set(label_cols) == set(PUBLISHED_LABEL_COLUMNS):
        skip.add(58)
    feature_cols = [i for i in range(n_jet_cols) if i not in skip]
    return part_cols, label_cols, feature_cols, [jnames[i] for i in feature_cols]


def _truth_targets(f, path: str, n_jets: int, start: int, stop: int | None) -> dict[str, np.ndarray]:
    """The ``jetTargets`` columns by name (empty when the file has none); NaN is kept (a missing value)."""
    if TARGETS_KEY not in f:
        return {}
    ds = _dataset(f, TARGETS_KEY, path, "fiu")
    names = _names(f, TARGET_NAMES_KEY, path)
    if ds.ndim != 2 or ds.shape[0] != n_jets or len(names) != ds.shape[1]:
        raise DataError(f"{path}: '{TARGETS_KEY}' has shape {ds.shape} with {len(names)} names in "
                        f"'{TARGET_NAMES_KEY}', expected ({n_jets}, {len(names)}).")
    try:
        values = np.asarray(ds[start:stop], dtype=np.float32)
    except OSError as exc:
        raise DataError(f"{path}: cannot read '{TARGETS_KEY}' (truncated or corrupt file?): {one_line(exc)}.") from None
    if np.isinf(values).any():
        raise DataError(f"{path}: '{TARGETS_KEY}' contains infinite values.")
    return {n: np.ascontiguousarray(values[:, i]) for i, n in enumerate(names)}


def _targets(truth: dict[str, np.ndarray], jets: np.ndarray, jnames: list[str], labels: np.ndarray) -> dict:
    out = {target: np.ascontiguousarray(jets[:, jnames.index(col)]) for col, target in RECO_TARGETS.items()
           if col in jnames}
    out.update(truth)
    if "parent_mass" in truth and "gen_sdmass" in truth:
        out["mass"] = default_mass(truth["parent_mass"], truth["gen_sdmass"], labels, CLASS_NAMES)
    return out


def read(path: str, start: int = 0, stop: int | None = None) -> JetArrays:
    """Read jets ``start:stop`` of one file.

    Raises
    ------
    DataError
        Missing dataset, wrong shape, NaN/inf, empty file, non-one-hot labels, unreadable file.
    """
    with _open(path) as f:
        parts_ds, jets_ds = _datasets(f, path)
        check_nonempty(int(parts_ds.shape[0]), path)
        part_cols, label_cols, feature_cols, jet_names = _layout(f, path, int(jets_ds.shape[1]))
        truth = _truth_targets(f, path, int(parts_ds.shape[0]), start, stop)
        try:
            parts = np.asarray(parts_ds[start:stop], dtype=np.float32)
            jets = np.asarray(jets_ds[start:stop], dtype=np.float32)
        except OSError as exc:
            raise DataError(f"{path}: cannot read data (truncated or corrupt file?): {one_line(exc)}.") from None
    check_finite(parts, path, "'jetConstituentList'")
    check_finite(jets, path, "'jets'")
    labels = labels_from_onehot(jets[:, label_cols], path, [f"j_{c}" for c in CLASS_NAMES])
    jet_feats = np.ascontiguousarray(jets[:, feature_cols])
    if part_cols != list(range(16)):
        parts = np.ascontiguousarray(parts[..., part_cols])
    p4 = np.ascontiguousarray(parts[..., :4])
    mask = mask_from_p4(p4)
    p4[~mask] = 0.0
    return JetArrays(p4=p4, mask=mask, labels=labels, class_names=list(CLASS_NAMES), format=NAME,
                     extras={"hls4ml16": parts}, extra_names={"hls4ml16": list(HLS4ML16)},
                     jet=jet_feats, jet_names=jet_names, sources=[path],
                     targets=_targets(truth, jet_feats, jet_names, labels))
