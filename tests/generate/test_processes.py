"""Worker processes of ``tagformer generate``: they die with the main process, Ctrl-C prints one line, and a
new command never runs beside an earlier one or its workers."""

from __future__ import annotations

import fcntl
import os
import signal
import sys

import pytest

from .conftest import TINY_ARGS, run_cli, write_parts
from .processes import session_processes, spawned_workers, start_generate, wait_until, workers_running

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: Enough work that the two workers are busy when the signal comes (the run never finishes in the test).
BUSY_ARGS = ["--classes", "w,g", "--jets-per-class", "400", "--shard-size", "200", "--workers", "2",
             "--no-progress", "--seed", "9"]


@pytest.fixture
def busy_run(tmp_path):
    """A 2-worker generate whose workers are running; everything left of it is killed afterwards."""
    out = tmp_path / "busy.h5"
    proc = start_generate(str(out), *BUSY_ARGS)
    try:
        parts = tmp_path / "busy.h5.parts"
        wait_until(lambda: (len(spawned_workers(proc.pid)) == 2 and workers_running(parts)) or proc.poll() is not None,
                   60, "the workers to start")
        assert proc.poll() is None, proc.communicate()
        yield proc, out
    finally:
        for pid in [*session_processes(proc.pid), proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def test_killing_the_main_process_kills_its_workers(busy_run):
    proc, out = busy_run
    assert len(spawned_workers(proc.pid)) == 2
    os.kill(proc.pid, signal.SIGKILL)  # the main process only, as an OOM killer or `kill -9 PID` would
    proc.wait()
    wait_until(lambda: not session_processes(proc.pid), 10, "the orphaned workers to exit")
    assert not workers_running(out.with_name(out.name + ".parts")), "nothing holds the worker lock any more"


def test_ctrl_c_prints_the_resume_hint_and_no_worker_traceback(busy_run):
    proc, _ = busy_run
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines() == ["interrupted: rerun the same command to resume where it stopped"]
    wait_until(lambda: not session_processes(proc.pid), 10, "the workers to exit")


def test_ctrl_c_while_workers_start(tmp_path):
    out = tmp_path / "early.h5"
    proc = start_generate(str(out), *BUSY_ARGS)
    wait_until(lambda: len(session_processes(proc.pid)) >= 2 or proc.poll() is not None, 60, "a worker to spawn")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "KeyboardInterrupt" not in err, err
    wait_until(lambda: not session_processes(proc.pid), 10, "the workers to exit")


def _hold(path, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, mode | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize(("lock_file", "mode", "fragment"), [
    (".lock", fcntl.LOCK_EX, "another tagformer command is writing"),
    (".workers.lock", fcntl.LOCK_SH, "worker processes of an earlier run are still writing"),
])
def test_a_rerun_never_races_an_earlier_run(tmp_path, capsys, monkeypatch, lock_file, mode, fragment):
    import tagformer.data.generate.lock as lock

    monkeypatch.setattr(lock, "WORKER_EXIT_WAIT_S", 0.3)
    out = tmp_path / "x.h5"
    parts = write_parts(out)
    (parts / "shard-w-00000.h5").write_bytes(b"finished by the earlier run")
    before = {p.name: p.read_bytes() for p in parts.iterdir()}
    fd = _hold(parts / lock_file, mode)  # an earlier command (or its orphaned worker) still holds it
    try:
        for argv in (["generate", str(out), *TINY_ARGS, "--workers", "1"], ["merge", str(out)]):
            assert run_cli(*argv) == 2
            err = capsys.readouterr().err
            assert err.startswith("error: ") and fragment in err and err.count("\n") == 1
    finally:
        os.close(fd)
    assert {p.name: p.read_bytes() for p in parts.iterdir() if not p.name.startswith(".")} == before
    assert not out.exists()
