"""Atomic file writes: a process killed at any instant leaves either the old file or the new one, never a torn one.

Every writer puts its bytes into a hidden temporary file beside the target (``.NAME.tmp<pid>``), flushes
it to disk and renames it over the target with :func:`os.replace` (atomic on POSIX within one file
system). This module imports nothing from tagformer, so every folder (data generation included) can use it.

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`: whole contents in memory;
- :func:`atomic_path`: for writers that want a path (h5py, ``torch.save``, matplotlib's ``savefig``).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def temporary_sibling(path: str | Path) -> Path:
    """The hidden temporary name used while ``path`` is being written (same directory, per process)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``, on any exception it is removed.

    Examples
    --------
    >>> with atomic_path(out / "jets.h5") as tmp:   # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f:
    ...         f["x"] = data
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path, fsync=False) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def plain(value: Any) -> Any:
    """JSON fallback: numpy/torch scalars and arrays become Python numbers and lists, anything else ``str``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2, default: Any = plain,
                      sort_keys: bool = False) -> Path:
    """Write ``obj`` as JSON (plus a final newline) to ``path`` atomically; returns ``path``.

    ``default`` converts values JSON does not know (:func:`plain` by default: numbers stay numbers, paths
    become strings).
    """
    text = json.dumps(obj, indent=indent, default=default, sort_keys=sort_keys) + "\n"
    return atomic_write_text(path, text)
