"""One reader per community dataset format, detection, and file resolution.

Each reader module defines ``NAME``, ``CLASS_NAMES``, ``SUFFIXES``, ``sniff(path)``, ``count(path)`` and
``read(path, start=0, stop=None) -> JetArrays``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from types import ModuleType

from tagformer.data.formats import hls4ml, jetclass, quarkgluon, toptagging
from tagformer.data.formats.base import JetArrays, concat, one_line
from tagformer.errors import DataError

FORMATS: tuple[str, ...] = ("hls4ml", "jetclass", "toptagging", "quarkgluon")
_MODULES = (hls4ml, jetclass, toptagging, quarkgluon)
_SUFFIXES = (".h5", ".hdf5", ".root", ".npz")
FILE_SHIFT = 40  # global jet index = file number << 40 | entry (used by splits)

__all__ = ["FORMATS", "JetArrays", "concat", "detect_format", "get_reader", "iter_chunks", "read_files",
           "resolve_files"]


def get_reader(name: str) -> ModuleType:
    """The reader module for a format name; DataError for an unknown name."""
    for module in _MODULES:
        if module.NAME == name:
            return module
    raise DataError(f"unknown data format '{name}'; choose one of {', '.join(FORMATS)}.")


def resolve_files(path: str) -> list[str]:
    """Files named by ``path``: a file, a directory (its data files, sorted) or a glob pattern.

    Raises
    ------
    DataError
        If nothing matches.
    """
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(_SUFFIXES))
        files = [f for f in files if os.path.isfile(f)]  # a subdirectory named "x.h5" is not a data file
        if not files:
            raise DataError(f"{path}: directory contains no .h5/.hdf5/.root/.npz files.")
        return files
    if os.path.isfile(path):
        return [path]
    if any(c in path for c in "*?["):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
        if not files:
            raise DataError(f"{path}: no file matches this pattern.")
        return files
    raise DataError(f"{path}: no such file or directory.")


def detect_format(files: list[str]) -> str:
    """Detect the format of the first file (all files of a split must share it)."""
    path = files[0]
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty (0 bytes).")
    if path.endswith(jetclass.SUFFIXES):
        return jetclass.NAME
    if path.endswith(quarkgluon.SUFFIXES):
        return quarkgluon.NAME
    if path.endswith(hls4ml.SUFFIXES):
        if hls4ml.sniff(path):
            return hls4ml.NAME
        if toptagging.sniff(path):
            return toptagging.NAME
        import h5py

        try:
            with h5py.File(path, "r") as f:
                keys = list(f.keys())
        except OSError as exc:
            raise DataError(f"{path}: cannot be opened as HDF5 (truncated or corrupt file?): "
                            f"{one_line(exc)}.") from None
        raise DataError(f"{path}: HDF5 file with keys {keys[:6]} is neither hls4ml ('jetConstituentList') "
                        "nor Top Tagging (pandas key 'table'); name the format with --format.")
    raise DataError(f"{path}: cannot tell the format from the file name; name it with --format.")


def _check_not_empty(path: str) -> None:
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the file is empty (0 bytes).")


def read_files(files: list[str], format: str, max_jets: int | None = None) -> JetArrays:
    """Read and concatenate ``files`` (stopping once ``max_jets`` jets are read)."""
    reader = get_reader(format)
    parts, total = [], 0
    for path in files:
        _check_not_empty(path)
        stop = None if max_jets is None else max_jets - total
        part = reader.read(path, 0, stop)
        parts.append(part)
        total += len(part)
        if max_jets is not None and total >= max_jets:
            break
    return concat(parts)


def iter_chunks(path: str, format: str, chunk_size: int, start: int = 0,
                stop: int | None = None) -> Iterator[JetArrays]:
    """Yield jets ``start:stop`` of one file in chunks of at most ``chunk_size`` jets."""
    reader = get_reader(format)
    _check_not_empty(path)
    stop = reader.count(path) if stop is None else stop
    if format == quarkgluon.NAME:  # npz cannot be read partially: decompress once
        yield reader.read(path, start, stop)
        return
    for lo in range(start, stop, chunk_size):
        yield reader.read(path, lo, min(lo + chunk_size, stop))
