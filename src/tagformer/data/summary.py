"""Per-class summaries of a jet file in the hls4ml layout (counts, medians, histograms).

Columns are found by name in ``jetFeatureNames`` (labels ``j_g, j_q, j_w, j_z, j_t``), so files
written by ``tagformer generate`` and the original hls4ml files are both understood.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagformer.atomic import atomic_path, check_replaceable
from tagformer.errors import DataError

LABEL_NAMES: tuple[str, ...] = ("j_g", "j_q", "j_w", "j_z", "j_t")
#: Observables summarised: (column name, human-readable title).
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("j_mass", "mass [GeV]"), ("j_mass_mmdt", "soft-drop mass [GeV]"), ("j_tau21_b1", "tau21"),
    ("j_tau32_b1", "tau32"), ("j_multiplicity", "multiplicity"),
)


#: PNG "Software" text of the histograms: the text every tagformer figure carries, so that a later
#: ``inspect --plot`` recognises its own plots (and replaces only those without ``--overwrite``).
PNG_SOFTWARE = "tagformer"


def is_own_png(path: Path) -> bool:
    """``path`` is a PNG whose ``Software`` text chunk (near the start) names tagformer."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return head.startswith(b"\x89PNG") and b"tEXtSoftware\x00" + PNG_SOFTWARE.encode() in head


@dataclass(frozen=True)
class ClassSummary:
    """Count and medians (by column name) of one class."""

    label: str
    count: int
    medians: dict[str, float]


def load_jet_table(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """The ``jets`` table and its column names; DataError if the file is not in the hls4ml layout."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file")
    try:
        with h5py.File(path, "r") as f:
            if "jets" not in f or "jetFeatureNames" not in f:
                raise DataError(f"{path} has no 'jets' and 'jetFeatureNames' datasets (not an hls4ml-layout file)")
            jets, names_ds = f["jets"], f["jetFeatureNames"]
            for key, obj in (("jets", jets), ("jetFeatureNames", names_ds)):
                if not isinstance(obj, h5py.Dataset):
                    raise DataError(f"{path}: '{key}' is a group, not a dataset (not an hls4ml-layout file)")
            if jets.dtype.kind not in "fiub" or jets.ndim != 2:
                raise DataError(f"{path}: 'jets' must be a 2-d table of numbers, found {jets.dtype} of shape "
                                f"{jets.shape}")
            table = jets[...]
            names = [n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in np.ravel(names_ds[()])]
    except OSError as exc:
        raise DataError(f"cannot read {path} as HDF5 ({' '.join(str(exc).split())})") from None
    if len(names) != table.shape[1]:
        raise DataError(f"{path}: 'jetFeatureNames' lists {len(names)} names for {table.shape[1]} columns of 'jets'")
    return table, names


def class_masks(table: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Boolean mask per class present in the file (from the one-hot label columns)."""
    missing = [n for n in LABEL_NAMES if n not in names]
    if missing:
        raise DataError(f"label column {missing[0]} not found in jetFeatureNames")
    onehot = table[:, [names.index(n) for n in LABEL_NAMES]]
    return {n.removeprefix("j_"): onehot[:, i] > 0.5 for i, n in enumerate(LABEL_NAMES)}


def summarize(path: str | Path) -> list[ClassSummary]:
    """Count and per-column medians for every class with at least one jet."""
    table, names = load_jet_table(path)
    out = []
    for label, mask in class_masks(table, names).items():
        if not mask.any():
            continue
        medians = {c: float(np.median(table[mask, names.index(c)])) for c, _ in SUMMARY_COLUMNS if c in names}
        out.append(ClassSummary(label, int(mask.sum()), medians))
    return out


def summary_table(path: str | Path, summaries: list[ClassSummary]):  # -> rich.table.Table
    """A rich table of :func:`summarize`'s result."""
    from rich.table import Table

    table = Table(title=f"{Path(path).name}: per-class medians")
    table.add_column("class")
    table.add_column("jets", justify="right")
    for _, title in SUMMARY_COLUMNS:
        table.add_column(title, justify="right")
    for s in summaries:
        cells = [f"{s.medians[c]:.3g}" if c in s.medians else "-" for c, _ in SUMMARY_COLUMNS]
        table.add_row(s.label, str(s.count), *cells)
    return table


def plot_histograms(path: str | Path, out_dir: str | Path, overwrite: bool = False) -> list[Path]:
    """One PNG per summarised observable, classes overlaid (mplhep style); returns the files written.

    Raises
    ------
    OutputError
        Before anything is written, if a target PNG exists that tagformer did not write (without
        ``overwrite``) or ``out_dir`` cannot be a writable directory.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    table, names = load_jet_table(path)
    masks = class_masks(table, names)
    out_dir = Path(out_dir)
    for column, _ in SUMMARY_COLUMNS:
        if column in names:
            check_replaceable(out_dir / f"{column}.png", is_own_png, overwrite=overwrite, what="plot")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create plot directory {out_dir}: {exc.strerror}") from None
    written = []
    for column, title in SUMMARY_COLUMNS:
        if column not in names:
            continue
        values = table[:, names.index(column)]
        hi = float(np.quantile(values, 0.995)) if len(values) else 1.0
        bins = np.linspace(0.0, hi if hi > 0 else 1.0, 41)
        with plt.style.context(mplhep.style.CMS):
            fig, ax = plt.subplots(figsize=(8, 6))
            for label, mask in masks.items():
                if mask.any():
                    ax.hist(values[mask], bins=bins, histtype="step", density=True, linewidth=2, label=label)
            ax.set_xlabel(title)
            ax.set_ylabel("density")
            ax.legend()
            target = out_dir / f"{column}.png"
            try:
                with atomic_path(target) as tmp:
                    fig.savefig(tmp, dpi=80, format="png", metadata={"Software": PNG_SOFTWARE})
            finally:
                plt.close(fig)
        written.append(target)
    return written
