"""Run ``tagformer generate`` on a full disk at each phase, then with space back; write a JSON report.

Used by ``test_disk_full.py`` in a subprocess (a crash must not take pytest down):

    python diskfull_driver.py MODE WORKDIR REFERENCE REPORT

MODE ``rlimit`` limits the size of any file written (``RLIMIT_FSIZE`` with ``SIGXFSZ`` ignored: writes
past it fail with EFBIG, a real kernel error on every write path); MODE ``tmpfs`` expects WORKDIR to be a
small tmpfs and fills it with a ballast file so that only the given number of bytes is free (ENOSPC).
Phases (TINY_ARGS, 2 classes x 2 shards): ``settings`` (no room for settings.json), ``shard`` (slice 0/2
done, no room for the next shard), ``merge`` (every shard fits, the output does not), then ``resume`` with
no limit. (A worker's error reaching the main process is ``test_pool.py``'s.)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

TINY_ARGS = ["--classes", "w,g", "--jets-per-class", "6", "--shard-size", "3", "--seed", "5", "--no-progress"]
#: Bytes one file may have (rlimit) or the disk has free (tmpfs) in each phase: settings.json is ~0.5 kB,
#: a shard ~38 kB, the merged file ~117 kB.
ROOM = {"settings": 0, "shard": 16_384, "merge": 100_000}


def _cli(*argv: str) -> dict:
    from tagformer.cli.main import main

    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(list(argv))
    return {"rc": rc, "err": err.getvalue(), "seconds": round(time.perf_counter() - start, 2)}


def _files(parts: Path) -> dict[str, str]:
    if not parts.is_dir():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(parts.iterdir()) if p.is_file()}


class Room:
    """Sets how many bytes can be written (per file for rlimit, in total for tmpfs)."""

    def __init__(self, mode: str, workdir: Path) -> None:
        self.mode, self.ballast = mode, workdir / "ballast"
        self.hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited by the spawned workers

    def limit(self, nbytes: int | None) -> None:
        if self.mode == "rlimit":
            soft = self.hard if nbytes is None else max(nbytes, 1)
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, self.hard))
            return
        self.ballast.unlink(missing_ok=True)
        if nbytes is not None:
            st = os.statvfs(self.ballast.parent)
            size = st.f_bavail * st.f_frsize - nbytes
            with open(self.ballast, "wb") as fh:
                fh.write(b"\0" * max(size, 0))


def main(mode: str, workdir: Path, reference: Path, report_path: Path) -> None:
    room = Room(mode, workdir)
    report: dict[str, dict] = {}
    # settings phase: a fresh output, nothing can be written
    fresh = workdir / "fresh.h5"
    room.limit(ROOM["settings"])
    report["settings"] = _cli("generate", str(fresh), *TINY_ARGS, "--workers", "1")
    room.limit(None)
    report["settings"]["left"] = sorted(p.name for p in workdir.iterdir() if p.name.startswith("fresh"))
    # shard phase: half the shards are done, the next one does not fit
    out = workdir / "out.h5"
    parts = workdir / "out.h5.parts"
    assert _cli("generate", str(out), *TINY_ARGS, "--workers", "1", "--shard", "0/2")["rc"] == 0
    before = _files(parts)
    room.limit(ROOM["shard"])
    report["shard"] = _cli("generate", str(out), *TINY_ARGS, "--workers", "1")
    room.limit(None)
    report["shard"].update(before=before, after=_files(parts), output=out.exists())
    # merge phase: the missing shards fit, the merged output does not
    room.limit(ROOM["merge"])
    report["merge"] = _cli("generate", str(out), *TINY_ARGS, "--workers", "1")
    room.limit(None)
    report["merge"].update(after=_files(parts), output=out.exists())
    # space is back: the same command resumes and ends with the file an uninterrupted run writes
    report["resume"] = _cli("generate", str(out), *TINY_ARGS, "--workers", "1")
    import h5py
    import numpy as np

    with h5py.File(out, "r") as got, h5py.File(reference, "r") as want:
        report["resume"]["same_arrays"] = all(np.array_equal(got[k][...], want[k][...])
                                              for k in ("jetConstituentList", "jets"))
    report["resume"]["parts_left"] = parts.exists()
    Path(report_path).write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
