"""The worker pool: results in task order, a worker's TagformerError re-raised as it is, a worker that dies
(here: a segmentation fault in C code) named as one clear error, never a hang."""

from __future__ import annotations

import ctypes

import pytest

from tagformer.data.generate.pool import run_tasks
from tagformer.errors import DataError


def square_or_fail(task: int, progress) -> int:
    """A stand-in for generating a shard (module level: the spawned workers import it)."""
    if task < 0:
        raise DataError(f"task {task} failed as a user error")
    progress(1)
    return task * task


def segfault(task: int, progress) -> None:
    ctypes.string_at(0)  # reads address 0


def test_results_in_task_order_and_errors_come_back(tmp_path):
    seen = []
    assert run_tasks([3, 1, 2, 5], square_or_fail, workers=2, parts=tmp_path, on_progress=seen.append) == [9, 1, 4, 25]
    assert seen == [1, 1, 1, 1]
    with pytest.raises(DataError, match=r"^task -1 failed as a user error$"):
        run_tasks([1, -1, 2, 3], square_or_fail, workers=1, parts=tmp_path)


def test_a_worker_that_crashes_is_one_clear_error(tmp_path):
    with pytest.raises(DataError) as info:
        run_tasks([0], segfault, workers=1, parts=tmp_path, describe=lambda t: "shard w-00007")
    message = str(info.value)
    assert message.startswith("a worker process was killed by signal 11 while working on shard w-00007")
    assert "rerun the same command to resume" in message and "\n" not in message
