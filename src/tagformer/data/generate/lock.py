"""Locks of a parts directory: one command at a time, and never beside workers of an earlier run.

Two ``flock`` files in the parts directory (advisory; released by the kernel when the holder dies):

- ``.lock``: held exclusively by the command writing the directory (``generate``, ``merge`` without
  ``--partial``) for its whole run; a second command is refused at once.
- ``.workers.lock``: held shared by every worker process for its whole life. A command that has taken
  ``.lock`` waits briefly for an exclusive hold on it, so it never starts while workers of an earlier run
  (whose parent was killed) are still alive and writing shards.

Where ``fcntl.flock`` does not exist or the file system refuses locks, the directory is used unlocked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tagformer.data.generate.parts import LOCK_FILE, WORKERS_LOCK_FILE
from tagformer.errors import DataError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: directories are used unlocked
    fcntl = None

#: How long a new command waits for workers of an earlier run to exit (they die with their parent).
WORKER_EXIT_WAIT_S = 10.0


def _flock(fd: int, flags: int) -> bool:
    """``flock(fd, flags)``; False when the lock is held elsewhere (True also where locks are refused)."""
    try:
        fcntl.flock(fd, flags)
    except BlockingIOError:
        return False
    except OSError:  # e.g. ENOLCK on a file system without locks: go on unlocked
        return True
    return True


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DataError(f"cannot create the lock file {path}: {exc.strerror}") from None


@contextlib.contextmanager
def run_lock(parts: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold ``parts`` for one command (creating the directory).

    Raises
    ------
    DataError
        If another command holds the directory, or workers of an earlier run are still alive after
        ``wait_s`` seconds (default :data:`WORKER_EXIT_WAIT_S`).
    """
    parts = Path(parts)
    wait_s = WORKER_EXIT_WAIT_S if wait_s is None else wait_s
    try:
        parts.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the parts directory {parts}: {exc.strerror}") from None
    if fcntl is None:  # pragma: no cover - not POSIX
        yield
        return
    fd = _open(parts / LOCK_FILE)
    try:
        if not _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB):
            raise DataError(f"another tagformer command is writing {parts} right now; wait for it to finish "
                            "(or stop it) and rerun")
        _wait_for_workers(parts, wait_s)
        yield
    finally:
        os.close(fd)


def _wait_for_workers(parts: Path, wait_s: float) -> None:
    fd = _open(parts / WORKERS_LOCK_FILE)
    try:
        deadline = time.monotonic() + wait_s
        while not _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB):
            if time.monotonic() > deadline:
                raise DataError(f"worker processes of an earlier run are still writing into {parts}; stop them "
                                "(they hold its .workers.lock) and rerun")
            time.sleep(0.1)
    finally:
        os.close(fd)  # releases the probe; this run's workers take it shared


def hold_worker_lock(parts: Path) -> int | None:
    """Take ``.workers.lock`` shared for the life of this (worker) process; returns the descriptor to keep."""
    if fcntl is None:  # pragma: no cover - not POSIX
        return None
    try:
        fd = os.open(Path(parts) / WORKERS_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    _flock(fd, fcntl.LOCK_SH)
    return fd
