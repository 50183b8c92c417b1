"""Helpers of the process tests: start ``tagformer generate`` in its own session, list what is left of it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path


def start_generate(*args: str) -> subprocess.Popen:
    """``python -m tagformer generate ARGS`` as the leader of a new session (its pid is the session id)."""
    env = {k: v for k, v in os.environ.items() if k != "TAGFORMER_DEBUG"} | {"OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tagformer", "generate", *args], env=env, text=True,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``: the command, its workers, helpers such as the
    resource tracker; they keep the session id when their parent dies."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2:].split()[:4]
        if int(session) == sid and state != "Z":
            pids.append(int(entry))
    return pids


def spawned_workers(sid: int) -> list[int]:
    """The processes of session ``sid`` started by multiprocessing's spawn (the workers)."""
    found = []
    for pid in session_processes(sid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline:
            found.append(pid)
    return found


def workers_running(parts: Path) -> bool:
    """True once worker processes hold the parts directory's worker lock (they take it before any work)."""
    path = parts / ".workers.lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
