"""A full disk at the settings, shard or merge phase: one clear line (exit 2, no crash), the finished shards
kept byte for byte, no temporary left, and the same command resumes to the right file once there is room.

The disk is a real 512 kB tmpfs (ENOSPC) where an unprivileged mount namespace is allowed, else a
per-file size limit (RLIMIT_FSIZE: EFBIG from the kernel on every write path); ``diskfull_driver.py`` runs
the phases. ENOSPC itself, where no tmpfs can be mounted, is injected by ``test_enospc_message``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("diskfull_driver.py")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux file-size limits and tmpfs")


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {tmp_path}"],
                           capture_output=True)
    return probe.returncode == 0


def _run_driver(mode: str, tmp_path: Path, reference: Path) -> dict:
    work = tmp_path / "disk"
    work.mkdir()
    report = tmp_path / "report.json"
    cmd = [sys.executable, str(DRIVER), mode, str(work), str(reference), str(report)]
    if mode == "tmpfs":
        script = f"mount -t tmpfs -o size=512k tmpfs {work} && exec \"$@\""
        cmd = ["unshare", "-rm", "sh", "-c", script, "sh", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={"OMP_NUM_THREADS": "1",
                                                                                 "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, f"the driver crashed (rc {done.returncode}):\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return json.loads(report.read_text())


def _one_clear_line(phase: dict, path_fragment: str) -> None:
    err = phase["err"]
    assert phase["rc"] == 2, phase
    assert err.startswith("error: disk full: cannot write ") and err.count("\n") == 1, err
    assert path_fragment in err and "rerun the same command to resume" in err, err


def test_full_disk_at_every_phase_then_resume(tmp_path, tiny_file):
    mode = "tmpfs" if _can_mount_tmpfs(tmp_path) else "rlimit"
    report = _run_driver(mode, tmp_path, tiny_file)
    _one_clear_line(report["settings"], "settings.json")
    assert report["settings"]["left"] == [], "a run that failed before its first shard leaves nothing"
    shard = report["shard"]
    _one_clear_line(shard, "shard-")
    assert {k: v for k, v in shard["after"].items() if not k.startswith(".")} == \
        {k: v for k, v in shard["before"].items() if not k.startswith(".")}, "finished shards kept byte for byte"
    assert not [k for k in shard["after"] if ".tmp" in k] and not shard["output"]
    merge = report["merge"]
    _one_clear_line(merge, "out.h5 ")
    assert sorted(k for k in merge["after"] if k.startswith("shard-")) == [
        "shard-g-00000.h5", "shard-g-00001.h5", "shard-w-00000.h5", "shard-w-00001.h5"]
    assert all(shard["before"][k] == merge["after"][k] for k in shard["before"] if k.startswith("shard-"))
    assert not [k for k in merge["after"] if ".tmp" in k] and not merge["output"]
    resume = report["resume"]
    assert resume["rc"] == 0 and resume["err"] == "", resume
    assert resume["same_arrays"] and not resume["parts_left"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_enospc_message(tmp_path, monkeypatch, code):
    import numpy as np

    from tagformer.data.generate import writer
    from tagformer.data.generate.parts import write_error

    def full(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(writer, "_write_all", full)
    target = tmp_path / "shard-w-00000.h5"
    with pytest.raises(OSError) as info:
        writer.write_arrays(target, np.zeros((2, 3, 16), np.float32), np.zeros((2, 16), np.float32), {})
    assert list(tmp_path.iterdir()) == [], "no temporary left beside the target"
    message = str(write_error(target, info.value, tmp_path))
    assert message.startswith(f"disk full: cannot write {target} ({os.strerror(code)})")
    assert f"stay in {tmp_path}" in message and "rerun the same command to resume" in message
