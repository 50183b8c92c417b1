"""Worker processes that die with their parent, ignore Ctrl-C and report errors as the project's errors.

:func:`run_tasks` runs ``work(task, progress)`` for every task on ``workers`` spawned processes, one task
at a time per worker (the order of ``tasks`` is the order they start in), and returns the results in task
order. Each worker:

- gets ``SIGKILL`` when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a thread that
  watches the parent pid), so killing the main process never leaves workers writing shards;
- starts with ``SIGINT`` blocked and ignored: Ctrl-C reaches only the main process, which stops the
  workers and reports one line (no tracebacks from workers);
- holds the parts directory's worker lock (:func:`tagformer.data.generate.lock.hold_worker_lock`);
- sends a :class:`~tagformer.errors.TagformerError` back as it is; any other exception comes back as a
  traceback text in a ``RuntimeError`` (a bug).

Processes talk over pipes only (no manager process, no semaphores).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tagformer.data.generate.lock import hold_worker_lock
from tagformer.errors import DataError, TagformerError

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this process get SIGKILL when ``parent_pid`` (its parent) exits."""
    armed = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError, TypeError):  # no libc prctl (not Linux)
        armed = False
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def _worker(conn: Connection, work: Callable, parent_pid: int, parts: str) -> None:
    """Entry point of a worker process: take tasks until told to stop (``None``)."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lock_fd = hold_worker_lock(Path(parts))  # open (so held) until the process exits

    def progress(n: int) -> None:
        conn.send(("progress", n))

    try:
        while True:
            message = conn.recv()
            if message is None:
                return
            index, task = message
            try:
                reply = ("done", index, work(task, progress))
            except TagformerError as exc:
                reply = ("error", index, exc)
            except BaseException:
                reply = ("crash", index, traceback.format_exc())
            conn.send(reply)
            if reply[0] != "done":
                return
    except (OSError, EOFError):  # the main process is gone or stopped listening: nothing to report to
        os._exit(1)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT while workers are started: they inherit the blocked mask and never see Ctrl-C."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    # multiprocessing starts its resource tracker on the first spawn and UNBLOCKS SIGINT afterwards, which
    # would let a Ctrl-C reach the workers started after it while their interpreters initialise: start it first
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a Ctrl-C that came meanwhile is delivered now


def run_tasks(tasks: Sequence[Any], work: Callable[[Any, Callable[[int], None]], Any], workers: int,
              parts: Path, describe: Callable[[Any], str] = str,
              on_progress: Callable[[int], None] | None = None) -> list[Any]:
    """Run ``work(task, progress)`` for every task on ``workers`` processes; results in task order.

    Parameters
    ----------
    work
        A picklable (module-level) callable; ``progress(n)`` reports n units of work done.
    parts
        The parts directory (its worker lock is held by every worker).
    describe
        Names a task in messages (the shard a crashed worker was running).
    on_progress
        Called in this process with each ``n`` the workers report.

    Raises
    ------
    TagformerError
        The first error a worker raised (the other workers are stopped).
    DataError
        If a worker process dies without reporting (killed, out of memory, a crash in C code).
    RuntimeError
        If ``work`` raised anything else in a worker (its traceback is in the message).
    """
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    procs: dict[Connection, Any] = {}
    running: dict[Connection, int] = {}
    results: dict[int, Any] = {}
    queue = list(enumerate(tasks))[::-1]  # pop() takes the first task
    finished = False
    try:
        with _sigint_blocked():
            for _ in range(min(workers, len(tasks))):
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(target=_worker, args=(child_end, work, os.getpid(), str(parts)), daemon=True)
                proc.start()
                child_end.close()  # the worker holds the only write end: its exit reads as EOF here
                procs[parent_end] = proc
        for conn in procs:
            _give(conn, queue, running)
        open_conns = list(procs)
        while len(results) < len(tasks):
            if not open_conns:
                raise RuntimeError("every worker exited before all tasks were done")
            for conn in wait(open_conns, timeout=0.5):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    open_conns.remove(conn)
                    if conn in running:
                        raise _died(procs[conn], tasks[running[conn]], describe) from None
                    continue
                if message[0] == "progress":
                    if on_progress is not None:
                        on_progress(message[1])
                elif message[0] == "done":
                    results[message[1]] = message[2]
                    _give(conn, queue, running)
                elif message[0] == "error":
                    raise message[2]
                else:
                    raise RuntimeError(f"a worker failed on {describe(tasks[message[1]])}:\n{message[2]}")
        finished = True
        return [results[i] for i in range(len(tasks))]
    finally:
        _stop(list(procs.values()), list(procs), graceful=finished)


def _give(conn: Connection, queue: list, running: dict) -> None:
    """Send the next task to an idle worker (or ``None``: no more work, exit)."""
    running.pop(conn, None)
    item = queue.pop() if queue else None
    with contextlib.suppress(OSError):  # a worker that died shows up as EOF on its pipe
        conn.send(item)
    if item is not None:
        running[conn] = item[0]


def _died(proc: Any, task: Any, describe: Callable[[Any], str]) -> DataError:
    proc.join(1.0)
    code = proc.exitcode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
    return DataError(f"a worker process {how} while working on {describe(task)} (out of memory?); finished "
                     "shards are kept: rerun the same command to resume")


def _stop(procs: list, conns: list, graceful: bool) -> None:
    """Let finished workers exit (``graceful``) or kill them at once, then close the pipes."""
    if graceful:
        for proc in procs:
            proc.join(5.0)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(5.0)
    for conn in conns:
        conn.close()
