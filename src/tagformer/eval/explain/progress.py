"""Progress lines that read well in a log file: one line per stage step, about every tenth of a loop."""

from __future__ import annotations

import sys
from collections.abc import Callable

Log = Callable[[str], None]


def print_log(message: str) -> None:
    """Print ``explain: message`` to stdout at once (no carriage returns: log files stay readable)."""
    print(f"explain: {message}", file=sys.stdout, flush=True)


def counter(log: Log, stage: str, unit: str = "jets") -> Callable[[int, int], None]:
    """A ``(done, total)`` callback that logs ``stage done/total unit`` each time another tenth is done."""
    last = [-1]

    def report(done: int, total: int) -> None:
        tenth = (10 * done) // max(total, 1)
        if tenth != last[0] or done >= total:
            last[0] = tenth
            log(f"{stage} {done}/{total} {unit}")

    return report
