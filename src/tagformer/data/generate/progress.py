"""Generation progress: a ``rich`` bar on a terminal, plain lines in a log file, or nothing when disabled.

A rich bar redraws one terminal line; written to a file (``tagformer generate ... > log``, a batch job's
output) it shows nothing until the end. When standard error is not a terminal, :class:`JetProgress`
prints one line at most every ``every_s`` seconds instead (jets done, jets/s, ETA), and one at the end.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class JetProgress:
    """Context manager counting accepted jets; ``advance(n)`` adds ``n``.

    Parameters
    ----------
    total : jets expected.
    description : what is being done (first words of every line).
    enabled : False prints nothing.
    every_s : least seconds between two lines in log-file mode.
    terminal : force the terminal bar (True) or log lines (False); default: whether stderr is a terminal.
    """

    def __init__(self, total: int, description: str, enabled: bool = True, every_s: float = 30.0,
                 terminal: bool | None = None) -> None:
        self.total, self.description, self.enabled = total, description, enabled and total > 0
        self.every_s = float(every_s)
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._progress = None
        self._task = None
        self._done = 0
        self._t0 = self._t_line = 0.0

    def __enter__(self) -> JetProgress:
        self._t0 = self._t_line = time.perf_counter()
        if self.enabled and self.terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("jets"),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, rate="")
        elif self.enabled:
            self._line("started")
        return self

    def _line(self, state: str) -> None:
        elapsed = time.perf_counter() - self._t0
        rate = self._done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self._done) / rate if rate > 0 else float("nan")
        eta_text = _clock(eta) if eta == eta else "?"
        print(f"[generate] {self.description}: {state}, {self._done:,}/{self.total:,} jets, {rate:.1f} jets/s, "
              f"elapsed {_clock(elapsed)}, ETA {eta_text}", file=sys.stderr, flush=True)

    def advance(self, n: int) -> None:
        self._done += n
        if not self.enabled:
            return
        if self._progress is None:
            now = time.perf_counter()
            if now - self._t_line >= self.every_s:
                self._t_line = now
                self._line("running")
            return
        self._progress.advance(self._task, n)
        speed = self._progress.tasks[0].speed
        self._progress.update(self._task, rate=f"{speed:.1f} jets/s" if speed else "")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif self.enabled:
            self._line("done" if exc_type is None else "stopped")
