"""JetClass ROOT files (one file per process, a directory per split), read with uproot.

TTree ``tree``: jagged ``part_*`` branches, ``jet_*`` branches and one-hot ``label_*`` branches over the
10 classes. ``aux_*`` branches are truth information: never model inputs.

Targets: ``pt`` and ``sdmass`` (``jet_pt``, ``jet_sdmass``), and every per-jet (scalar) numeric
``aux_genpart_*`` branch under its branch name (e.g. ``aux_genpart_pt``); jagged ``aux_*`` branches are
not read.
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
from tagformer.errors import DataError

NAME = "jetclass"
SUFFIXES = (".root",)
TREE = "tree"
CLASS_NAMES = ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]
LABEL_BRANCHES = [f"label_{c}" for c in CLASS_NAMES]
P4_BRANCHES = ["part_px", "part_py", "part_pz", "part_energy"]
PID_BRANCHES = ["part_charge", "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton",
                "part_isElectron", "part_isMuon"]
IP_BRANCHES = ["part_d0val", "part_d0err", "part_dzval", "part_dzerr"]
#: Reconstructed jet branches exposed as targets (also jet features), by target name.
RECO_TARGETS = {"pt": "jet_pt", "sdmass": "jet_sdmass"}
TRUTH_PREFIX = "aux_genpart_"
JET_BRANCHES = ["jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles", "jet_sdmass",
                "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4"]


def _tree(path: str):
    """The TTree of a JetClass file; DataError for a file uproot cannot open or read (truncated, corrupt).

    uproot reads lazily, so a truncated file can pass ``uproot.open`` and fail at the first key or branch
    read: everything up to the number of entries and the branch names is read here.
    """
    import uproot

    try:
        f = uproot.open(path)
        if TREE not in f:
            raise DataError(f"{path}: no TTree '{TREE}' (keys: {list(f.keys())[:5]}).")
        tree = f[TREE]
        _ = (tree.num_entries, tree.keys())  # force the lazy reads here
    except DataError:
        raise
    except Exception as exc:  # uproot raises many types (OSError, ValueError, DeserializationError ...)
        raise DataError(f"{path}: cannot be read as a ROOT file (truncated or corrupt?): {one_line(exc)}.") from None
    return tree


def sniff(path: str) -> bool:
    return path.endswith(SUFFIXES)


def count(path: str) -> int:
    return int(_tree(path).num_entries)


def _jagged_to_padded(array, n_max: int) -> np.ndarray:
    import awkward as ak

    padded = ak.fill_none(ak.pad_none(array, n_max, clip=True), 0.0)
    return ak.to_numpy(padded).astype(np.float32)


def read(path: str, start: int = 0, stop: int | None = None) -> JetArrays:
    """Read entries ``start:stop`` of one file into padded arrays (P = largest multiplicity read).

    Raises
    ------
    DataError
        Missing branch, NaN/inf, empty file, non-one-hot labels, unreadable file.
    """
    import awkward as ak

    tree = _tree(path)
    check_nonempty(int(tree.num_entries), path)
    present = set(tree.keys())
    missing = [b for b in P4_BRANCHES + LABEL_BRANCHES if b not in present]
    if missing:
        raise DataError(f"{path}: missing branch(es) {missing}.")
    has_pid = all(b in present for b in PID_BRANCHES)
    has_ip = all(b in present for b in IP_BRANCHES)
    jet_branches = [b for b in JET_BRANCHES if b in present]
    part_branches = P4_BRANCHES + (PID_BRANCHES if has_pid else []) + (IP_BRANCHES if has_ip else [])
    truth_branches = _scalar_branches(tree, sorted(b for b in present if b.startswith(TRUTH_PREFIX)))
    try:
        arrays = tree.arrays(part_branches + jet_branches + LABEL_BRANCHES + truth_branches, entry_start=start,
                             entry_stop=stop, library="ak")
    except Exception as exc:
        raise DataError(f"{path}: cannot read branches (truncated or corrupt file?): {one_line(exc)}.") from None
    if ak.num(arrays, axis=0) == 0:
        raise DataError(f"{path}: no jets in entries {start}:{stop}.")
    for b in part_branches:
        if arrays[b].ndim != 2:
            raise DataError(f"{path}: branch '{b}' is not jagged per-particle data (ndim {arrays[b].ndim}).")
    n_max = int(ak.max(ak.num(arrays["part_px"], axis=1)))
    n_max = max(n_max, 1)
    parts = {b: _jagged_to_padded(arrays[b], n_max) for b in part_branches}
    for b, v in parts.items():
        check_finite(v, path, f"branch '{b}'")
    p4 = np.stack([parts[b] for b in P4_BRANCHES], axis=-1)
    real = np.arange(n_max)[None, :] < ak.to_numpy(ak.num(arrays["part_px"], axis=1))[:, None]
    mask = real & mask_from_p4(p4)
    onehot = np.stack([ak.to_numpy(arrays[b]) for b in LABEL_BRANCHES], axis=1)
    labels = labels_from_onehot(onehot, path, LABEL_BRANCHES)
    extras, extra_names = {}, {}
    if has_pid:
        extras["pid"] = np.stack([parts[b] for b in PID_BRANCHES], axis=-1)
        extra_names["pid"] = [b.removeprefix("part_") for b in PID_BRANCHES]
    if has_ip:
        extras["ip"] = np.stack([parts[b] for b in IP_BRANCHES], axis=-1)
        extra_names["ip"] = [b.removeprefix("part_") for b in IP_BRANCHES]
    jet = None
    if jet_branches:
        jet = np.stack([ak.to_numpy(arrays[b]).astype(np.float32) for b in jet_branches], axis=1)
        check_finite(jet, path, "jet branches")
    return JetArrays(p4=p4, mask=mask, labels=labels, class_names=list(CLASS_NAMES), format=NAME,
                     extras=extras, extra_names=extra_names, jet=jet,
                     jet_names=[b.removeprefix("jet_") for b in jet_branches], sources=[path],
                     targets=_targets(arrays, jet_branches, truth_branches, path))


def _scalar_branches(tree, names: list[str]) -> list[str]:
    """The branches of ``names`` holding one number per entry (jagged, array and object branches are skipped)."""
    import uproot

    out = []
    for name in names:
        try:
            interp = tree[name].interpretation
        except Exception:  # uproot cannot interpret it: not a plain number either
            continue
        if isinstance(interp, uproot.AsDtype) and interp.inner_shape == () and interp.to_dtype.kind in "fiub":
            out.append(name)
    return out


def _targets(arrays, jet_branches: list[str], truth_branches: list[str], path: str) -> dict[str, np.ndarray]:
    """Reconstructed and truth per-jet targets (scalar numeric branches only; NaN kept, inf refused)."""
    import awkward as ak

    out = {name: ak.to_numpy(arrays[b]).astype(np.float32) for name, b in RECO_TARGETS.items() if b in jet_branches}
    for b in truth_branches:
        column = arrays[b]
        if column.ndim != 1 or not np.issubdtype(ak.to_numpy(column).dtype, np.number):
            continue
        values = ak.to_numpy(column).astype(np.float32)
        if np.isinf(values).any():
            raise DataError(f"{path}: branch '{b}' contains infinite values.")
        out[b] = values
    return out
