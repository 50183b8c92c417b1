"""Atomic file writes: a process killed at any instant leaves either the old file or the new one, never a torn one.

Every writer puts its bytes into a hidden temporary file beside the target (``.NAME.tmp<pid>``), flushes
it to disk and renames it over the target with :func:`os.replace` (atomic on POSIX within one file
system). This module imports only :mod:`tagformer.errors` (another leaf), so every folder (data generation
included) can use it.

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json`: whole contents in memory;
- :func:`atomic_path`: for writers that want a path (h5py, ``torch.save``, matplotlib's ``savefig``);
- :func:`check_output_dir` and :func:`check_replaceable`: asked *before* any work, so that a command whose
  output cannot be written (a file where a directory belongs, a read-only file system) or would replace a
  file the user made fails at once with one clear message.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tagformer.errors import OutputError


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


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_dir(path: str | Path, what: str = "output directory") -> Path:
    """Check, without creating anything, that ``path`` is or can become a writable directory.

    Raises
    ------
    OutputError
        If ``path`` (or an ancestor) is an existing file, or the directory that would hold it is not
        writable (read-only file system, permissions).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what} {path} exists and is not a directory")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise OutputError(f"cannot create {what} {path}: {base} is a file, not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        reason = "read-only file system or no write permission"
        raise OutputError(f"cannot write to {what} {path}: {base} is not writable ({reason})")
    return path


def check_replaceable(path: str | Path, is_ours: Callable[[Path], bool], *, overwrite: bool = False,
                      what: str = "output file", flag: str = "--overwrite") -> Path:
    """Refuse to replace ``path`` unless it is absent, was written by the same command (``is_ours(path)``) or
    ``overwrite`` is set; also checks that its directory can be written (:func:`check_output_dir`).

    Raises
    ------
    OutputError
        If ``path`` is a directory, is a file the command did not write (and ``overwrite`` is false), or
        cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path} is a directory")
    if path.exists() and not overwrite:
        try:
            ours = is_ours(path)
        except (OSError, UnicodeDecodeError, ValueError):
            ours = False
        if not ours:
            raise OutputError(f"{path} exists and was not written by this command; pass {flag} to replace it "
                              "or choose another path")
    check_output_dir(path.parent, f"the directory of {what}")
    return path


def first_line(path: str | Path, limit: int = 4096) -> str:
    """The first line of a text file (at most ``limit`` bytes, undecodable bytes replaced); for
    :func:`check_replaceable` tests of a file's own header."""
    with open(path, "rb") as fh:
        lines = fh.read(limit).decode("utf-8", errors="replace").splitlines()
    return lines[0] if lines else ""
