"""Run one plot script in a subprocess: its own scratch directory, a time limit, and the audit-hook guard
of ``_sandbox_boot.py`` (no writes outside the scratch directory, no subprocess, no network)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BOOT = Path(__file__).with_name("_sandbox_boot.py")
SCRIPT = "plot_code.py"


@dataclass
class RunResult:
    """What one run did: exit status (None when killed at the time limit), outputs, wall time."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run_script(code: str, scratch: Path, data: Path | None, timeout_s: float) -> RunResult:
    """Write ``code`` to ``scratch/plot_code.py`` and run it there, killed (with its process group) after
    ``timeout_s`` seconds."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / SCRIPT).write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAGFORMER_LLM", "OPENAI_"))}
    env.update({"MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".config"), "TMPDIR": str(scratch),
                "XDG_CACHE_HOME": str(scratch / ".cache"), "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1")})
    if data is not None:
        env["TAGFORMER_PLOT_DATA"] = str(data.resolve())
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-I", "-B", str(BOOT), str(scratch.resolve()), SCRIPT], cwd=scratch,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return RunResult(None if timed_out else proc.returncode, out, err, time.monotonic() - start, timed_out)
