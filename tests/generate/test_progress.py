"""The generation progress bar counts jets and shows a rate."""

from __future__ import annotations

import time

from tagformer.data.generate.progress import JetProgress


def test_progress_counts_jets():
    with JetProgress(10, "generating", enabled=True, terminal=True) as bar:  # the terminal bar
        bar.advance(4)
        time.sleep(0.01)  # two samples at distinct times, so rich can compute a rate
        bar.advance(6)
        task = bar._progress.tasks[0]
        assert task.completed == 10 and task.finished
        assert task.fields["rate"].endswith("jets/s")


def test_disabled_progress_is_silent(capsys):
    with JetProgress(10, "generating", enabled=False) as bar:
        bar.advance(3)
    assert capsys.readouterr().out == ""
