"""HDF5 output in the hls4ml layout, written atomically (:func:`tagformer.atomic.atomic_path`).

The HDF5 file is built in memory and then written to disk by Python in one pass: HDF5 itself never
writes to disk, so a full disk is an ordinary ``OSError`` here (HDF5 failing its own writes prints
errors from destructors and can crash the process). The space is reserved first (``posix_fallocate``)
where the file system allows it, so a full disk is found before any byte is written.

Layout of a generated file (and of each shard):

- ``jetConstituentList`` (N, P, 16) float32: pT-ordered, zero-padded constituents, see ``features.py``;
- ``jets`` (N, J) float32: observables (see ``jets.py``) then one-hot ``j_g, j_q, j_w, j_z, j_t``;
- ``jetFeatureNames`` (J,) and ``particleFeatureNames`` (16,) byte strings, as in the hls4ml files;
- ``jetTargets`` (N, 4) float32 and ``jetTargetNames`` (4,) byte strings: per-jet regression targets
  ``parent_mass, gen_mass, gen_sdmass, gen_pt`` (see ``genjets.py``; NaN where undefined). Separate datasets,
  so tools that know only the hls4ml layout read the files unchanged;
- ``metadata`` group (final files): attributes ``settings`` (JSON of every setting), ``seed``,
  ``versions`` (JSON), ``command``, ``shards``, ``events_generated``.
"""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import numpy as np

from tagformer.atomic import atomic_path
from tagformer.data.generate.config import ALL_CLASSES
from tagformer.data.generate.features import PARTICLE_FEATURE_NAMES
from tagformer.data.generate.genjets import TARGET_NAMES
from tagformer.data.generate.jets import OBSERVABLE_NAMES
from tagformer.errors import DataError

JET_FEATURE_NAMES: tuple[str, ...] = (*OBSERVABLE_NAMES, *(f"j_{c}" for c in ALL_CLASSES))


def _names(names: tuple[str, ...]) -> np.ndarray:
    return np.array([n.encode() for n in names])


def write_arrays(path: Path, constituents: np.ndarray, jets: np.ndarray, attrs: dict[str, object],
                 metadata: dict[str, object] | None = None, chunk_jets: int = 1000,
                 targets: np.ndarray | None = None) -> None:
    """Write one file atomically: a hidden temporary beside ``path`` is renamed over it at the end.

    Parameters
    ----------
    targets
        (N, len(TARGET_NAMES)) per-jet regression targets, written as ``jetTargets`` (None: not written).
    attrs
        Root attributes (shards carry their fingerprint and shard identity here).
    metadata
        Attributes of the ``metadata`` group (final files).

    Raises
    ------
    OSError
        If the file cannot be written (a full disk included); nothing is left at ``path`` or beside it.
    """
    import h5py

    image = io.BytesIO()
    with h5py.File(image, "w", track_order=True) as f:
        chunks = (min(chunk_jets, max(len(constituents), 1)), *constituents.shape[1:])
        f.create_dataset("jetConstituentList", data=constituents, chunks=chunks, track_times=False)
        f.create_dataset("jets", data=jets, track_times=False)
        f.create_dataset("jetFeatureNames", data=_names(JET_FEATURE_NAMES), track_times=False)
        f.create_dataset("particleFeatureNames", data=_names(PARTICLE_FEATURE_NAMES), track_times=False)
        if targets is not None:
            f.create_dataset("jetTargets", data=np.asarray(targets, np.float32), track_times=False)
            f.create_dataset("jetTargetNames", data=_names(TARGET_NAMES), track_times=False)
        for key, value in attrs.items():
            f.attrs[key] = value
        if metadata is not None:
            group = f.create_group("metadata", track_order=True)
            for key, value in metadata.items():
                group.attrs[key] = value
    with image.getbuffer() as data:
        write_bytes(path, data)


def write_bytes(path: Path, data: memoryview, block: int = 1 << 26) -> None:
    """Write ``data`` to ``path`` atomically (space reserved first where possible, fsync before the rename)."""
    with atomic_path(path, fsync=False) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _reserve(fd, len(data))
            _write_all(fd, data, block)
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: memoryview, block: int) -> None:
    for start in range(0, len(data), block):
        view = data[start:start + block]
        while len(view):
            view = view[os.write(fd, view):]


def _reserve(fd: int, size: int) -> None:
    """Reserve ``size`` bytes for ``fd`` (ENOSPC now rather than halfway); a no-op where unsupported."""
    if size and hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise


def _shard_error(path: Path, problem: str) -> DataError:
    return DataError(f"shard {path} {problem}; delete it and rerun the same command to regenerate it")


def read_shard(path: Path, fingerprint: str, count: int,
               load: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (constituents, jets, targets) of a finished shard, checked against the run's settings and
    expected jet count.

    Parameters
    ----------
    load
        False only validates (returns empty arrays).

    Raises
    ------
    DataError
        If the file cannot be read, belongs to other settings or has the wrong shape.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("fingerprint") != fingerprint:
                raise _shard_error(path, "was generated with different settings")
            if "jetTargets" not in f:
                raise _shard_error(path, "was made by an older tagformer, without the truth targets (jetTargets)")
            cons_ds, jets_ds, targets_ds = f["jetConstituentList"], f["jets"], f["jetTargets"]
            shapes = (cons_ds.shape[0], jets_ds.shape[0], jets_ds.shape[1])
            target_shape = targets_ds.shape
            cons = cons_ds[...] if load else np.zeros(0)
            jets = jets_ds[...] if load else np.zeros(0)
            targets = targets_ds[...] if load else np.zeros(0)
    except DataError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise _shard_error(path, f"is corrupt or unreadable ({exc})") from None
    if shapes != (count, count, len(JET_FEATURE_NAMES)):
        raise _shard_error(path, f"holds {shapes[0]} jets with {shapes[2]} columns instead of {count} jets")
    if target_shape != (count, len(TARGET_NAMES)):
        raise _shard_error(path, f"holds targets of shape {target_shape} instead of ({count}, {len(TARGET_NAMES)})")
    return cons, jets, targets


def check_shard(path: Path, fingerprint: str, count: int) -> None:
    """Validate a finished shard without loading its arrays (see :func:`read_shard`)."""
    read_shard(path, fingerprint, count, load=False)


def versions() -> dict[str, str]:
    """Versions of the packages that shape the output."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("tagformer", "pythia8mc", "fastjet", "numpy", "awkward", "h5py", "vector"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def metadata_attrs(settings: dict, seed: int, command: str, shards: int, events: int) -> dict[str, object]:
    """Attributes of the ``metadata`` group of a final file."""
    out: dict[str, object] = {"settings": json.dumps(settings, sort_keys=True), "seed": seed,
                              "versions": json.dumps(versions()), "command": command, "shards": shards,
                              "events_generated": events}
    for key, value in settings.items():
        out.setdefault(key, json.dumps(value) if isinstance(value, list | tuple | dict) else value)
    return out
