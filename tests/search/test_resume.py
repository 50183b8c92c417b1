"""A search killed with SIGKILL resumes without repeating or losing a trial; two workers split one study."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_helpers import TINY_SPACE, write_space

from tagformer.rundir import RunDir
from tagformer.search import run_search
from tagformer.search.study import default_storage, slot

optuna = pytest.importorskip("optuna", minversion="5.0")  # the search extra

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cmd(space: Path, data: Path, out: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tagformer.cli.main", "search", "--space", str(space), "--data", str(data),
            "--trials", str(trials), "--out", str(out), *extra]


def _states(db: Path) -> dict[int, str]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return dict(con.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.OperationalError:  # tables not created yet, or locked
        return {}


def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=default_storage(out))


def test_sigkill_mid_search_then_rerun_finishes_without_repeating_or_losing_trials(slow_h5: Path,
                                                                                   tmp_path: Path) -> None:
    run = {**TINY_SPACE["run"], "trainer": {**TINY_SPACE["run"]["trainer"], "max_epochs": 3}}
    space = write_space(tmp_path / "space.yaml", run=run)
    out = tmp_path / "out"
    cmd = _cmd(space, slow_h5, out, 3)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    killed = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and killed is None:
            states = _states(out / "study.db")
            running = [n for n, s in states.items() if s == "RUNNING"]
            done = [n for n, s in states.items() if s == "COMPLETE"]
            for n in running:  # a trial in the middle of its training
                if len(done) >= 2 and (out / "trials" / f"trial-{n:04d}" / "checkpoints" / "last.ckpt").exists():
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = n
                    break
            time.sleep(0.05)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed is not None, "the search finished before a trial could be killed mid-training"
    before = {t.number: t for t in _study(out).get_trials() if t.state.name == "COMPLETE"}
    mtimes = {n: RunDir(t.user_attrs["run_dir"]).summary.stat().st_mtime for n, t in before.items()
              if not t.user_attrs.get("duplicate_of")}
    killed_dir = out / "trials" / f"trial-{killed:04d}"
    assert not RunDir(killed_dir).is_finished()

    lines: list[str] = []  # the rerun (in this process: same command, same study)
    run_search(space, slow_h5, trials=3, out_dir=out, log=lines.append)
    assert f"trial {killed}: its worker is gone; queued again (resumes its run directory)" in lines
    trials = _study(out).get_trials()
    finished = [t for t in trials if slot(t) == "done"]
    assert len(finished) == 3  # the study holds exactly its trials: none lost ...
    origins = [t.user_attrs["origin"] for t in finished]
    assert len(set(origins)) == len(origins)  # ... and none repeated
    for n, t in before.items():  # finished trials are untouched: same values, not trained again
        assert trials[n].state == t.state and trials[n].values == t.values
    for n, mtime in mtimes.items():
        assert RunDir(before[n].user_attrs["run_dir"]).summary.stat().st_mtime == mtime
    assert trials[killed].state.name == "FAIL" and "error" not in trials[killed].user_attrs
    retries = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(retries) == 1 and retries[0].state.name == "COMPLETE"
    assert retries[0].params == trials[killed].params and retries[0].user_attrs["origin"] == killed
    assert Path(retries[0].user_attrs["run_dir"]) == killed_dir
    epochs = [int(r.split(",")[0]) for r in RunDir(killed_dir).metrics_csv.read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2]  # resumed from its checkpoint: no epoch lost or doubled
    assert (out / "search.csv").exists()


def test_two_worker_processes_split_one_sqlite_study(tiny_h5: Path, tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    space = write_space(tmp_path / "space.yaml")
    out = tmp_path / "out"
    lines: list[str] = []
    run_search(space, tiny_h5, trials=6, out_dir=out, workers=2, report=False, log=lines.append)
    trials = _study(out).get_trials()
    finished = [t for t in trials if slot(t) == "done"]
    assert len(finished) == 6
    assert len({t.user_attrs["origin"] for t in finished}) == 6
    pids = {t.user_attrs["worker"]["pid"] for t in finished}
    assert len(pids) == 2, f"one worker ran every trial: {pids}"
    assert os.getpid() in pids and "[worker 1] trial" in capfd.readouterr().out  # the spawned worker's lines
