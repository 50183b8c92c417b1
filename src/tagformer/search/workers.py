"""Which process runs a trial, whether it is still alive, and its heartbeat.

Every running trial records its worker (``host``, ``pid`` and, on Linux, the process start time, so a
recycled pid is not mistaken for the original process) and refreshes a ``heartbeat`` time while it runs.
A trial left ``RUNNING`` by a worker that is gone (killed, crashed, node lost) is recognised by either test:

- same host: the recorded process no longer exists (immediate, e.g. right after ``kill -9``);
- any host: the heartbeat is older than the grace period (for workers on other nodes sharing the database;
  wall clocks of the nodes are assumed to agree to well within the grace period).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def _start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux ``/proc``), or None where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # the command name may hold spaces and parentheses
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Worker:
    """A worker process: host name, pid and start time (None where the OS does not tell)."""

    host: str
    pid: int
    started: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Worker:
        return cls(str(data.get("host", "")), int(data.get("pid", -1)), data.get("started"))


def this_worker() -> Worker:
    """The calling process."""
    pid = os.getpid()
    return Worker(socket.gethostname(), pid, _start_time(pid))


def process_alive(worker: Worker) -> bool | None:
    """True/False for a worker on this host (the same process still exists), None for another host."""
    if worker.host != socket.gethostname():
        return None
    if worker.pid <= 0:
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    if worker.started is not None:
        return _start_time(worker.pid) == worker.started
    return True


def is_gone(worker_attr: Mapping[str, Any] | None, heartbeat: float | None, grace_s: float,
            now: float | None = None) -> bool:
    """Whether the worker of a running trial is gone (see the module docstring).

    ``worker_attr`` / ``heartbeat`` are what the trial recorded (None if it recorded nothing yet: then
    only the heartbeat age, counted from ``heartbeat`` or, lacking it, not at all, can tell).
    """
    if worker_attr:
        alive = process_alive(Worker.from_dict(worker_attr))
        if alive is not None:
            return not alive
    if heartbeat is None:
        return False
    return (now if now is not None else time.time()) - float(heartbeat) > grace_s


class Heartbeat:
    """A daemon thread calling ``beat(time.time())`` every ``interval_s`` until :meth:`stop`.

    ``beat`` errors end the thread quietly (the trial may have been finished by another process).
    """

    def __init__(self, beat: Callable[[float], None], interval_s: float) -> None:
        self._beat = beat
        self._interval = float(interval_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tagformer-search-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._beat(time.time())
            except Exception:  # a finished trial or a lost database ends the heartbeat
                return
            self._stop.wait(self._interval)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
