"""Top Tagging landscape files (pandas HDF5, key ``table``; train/val/test files).

Columns ``E_i, PX_i, PY_i, PZ_i`` for i < 200 (zero-padded) and the label ``is_signal_new`` (1 = top).
Targets: ``pt`` and ``jet_mass`` of the constituent sum; where the file has the truth top four-vector
columns ``truthE, truthPX, truthPY, truthPZ``, also ``truth_pt`` and ``truth_mass`` (NaN for QCD jets, whose
truth columns are zero). Other columns (``ttv`` ...) are ignored; no column is a model input.
"""

from __future__ import annotations

import numpy as np

from tagformer.data.formats.base import JetArrays, check_finite, check_nonempty, mask_from_p4, one_line
from tagformer.data.formats.targets import constituent_targets, four_vector_targets
from tagformer.errors import DataError

NAME = "toptagging"
SUFFIXES = (".h5", ".hdf5")
KEY = "table"
LABEL = "is_signal_new"
CLASS_NAMES = ["QCD", "top"]
TRUTH_COLUMNS = ("truthPX", "truthPY", "truthPZ", "truthE")


def _store(path: str):
    import pandas as pd

    try:
        return pd.HDFStore(path, mode="r")
    except Exception as exc:
        raise DataError(f"{path}: cannot be opened as a pandas HDF5 file (truncated or corrupt?): "
                        f"{one_line(exc)}.") from None


def sniff(path: str) -> bool:
    """True for an HDF5 file with a pandas object under key ``table``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return KEY in f and "pandas_type" in f[KEY].attrs
    except OSError:
        return False


def count(path: str) -> int:
    with _store(path) as store:
        if f"/{KEY}" not in store.keys():
            raise DataError(f"{path}: missing key '{KEY}'.")
        storer = store.get_storer(KEY)
        if storer.nrows is not None:  # format="table"
            return int(storer.nrows)
        return int(storer.shape[0])  # format="fixed" (the published files): shape = (rows, columns)


def read(path: str, start: int = 0, stop: int | None = None) -> JetArrays:
    """Read rows ``start:stop`` of one file.

    Raises
    ------
    DataError
        Missing key or columns, NaN/inf, empty file, labels other than 0/1, unreadable file.
    """
    with _store(path) as store:
        if f"/{KEY}" not in store.keys():
            raise DataError(f"{path}: missing key '{KEY}' (keys: {store.keys()}).")
        try:
            df = store.select(KEY, start=start, stop=stop)
        except Exception as exc:
            raise DataError(f"{path}: cannot read '{KEY}' (truncated or corrupt file?): {one_line(exc)}.") from None
    check_nonempty(len(df), path)
    if LABEL not in df.columns:
        raise DataError(f"{path}: missing label column '{LABEL}'.")
    n_part = 0
    while f"E_{n_part}" in df.columns:
        n_part += 1
    if n_part == 0:
        raise DataError(f"{path}: no constituent columns E_0, PX_0, PY_0, PZ_0.")
    cols = []
    for comp in ("PX", "PY", "PZ", "E"):
        names = [f"{comp}_{i}" for i in range(n_part)]
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing[:4]} (E_i has {n_part} particles).")
        cols.append(df[names].to_numpy(dtype=np.float32))
    p4 = np.stack(cols, axis=-1)
    check_finite(p4, path, "constituent columns")
    raw = df[LABEL].to_numpy()
    check_finite(raw.astype(np.float64), path, f"'{LABEL}'")
    if not np.isin(raw, (0, 1)).all():
        raise DataError(f"{path}: '{LABEL}' must be 0 or 1, found {np.unique(raw)[:5].tolist()}.")
    mask = mask_from_p4(p4)
    targets = constituent_targets(p4, mask)
    if all(c in df.columns for c in TRUTH_COLUMNS):
        truth = df[list(TRUTH_COLUMNS)].to_numpy(dtype=np.float64)
        check_finite(truth, path, "truth columns")
        targets.update(four_vector_targets("truth_", truth))
    return JetArrays(p4=p4, mask=mask, labels=raw.astype(np.int64), class_names=list(CLASS_NAMES),
                     format=NAME, sources=[path], targets=targets)
